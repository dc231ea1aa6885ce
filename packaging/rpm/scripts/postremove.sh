# %postun ($1: 0 erase, 1 upgrade). On erase the agent's own data (checkpoints, events) goes;
# the user stays, as Fedora's packaging guidelines ask (its files may remain elsewhere).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 0 ]; then
    rm -rf /var/lib/tailgate /var/log/tailgate
fi
exit 0
