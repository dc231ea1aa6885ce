# %post ($1: 1 first install, 2 upgrade). systemd creates these for the service too
# (StateDirectory=, LogsDirectory=); here so `tailgate` also works without systemd as PID 1.
install -d -o tailgate -g tailgate -m 0750 /var/lib/tailgate /var/log/tailgate
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -eq 1 ]; then
        # Like %systemd_post: the distribution's preset decides whether it starts enabled.
        systemctl --no-reload preset tailgate.service >/dev/null 2>&1 || :
    else
        systemctl try-restart tailgate.service >/dev/null 2>&1 || :
    fi
fi
exit 0
