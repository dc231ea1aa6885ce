# %preun ($1: 0 erase, 1 upgrade): stop and disable the service on erase (like %systemd_preun).
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now tailgate.service >/dev/null 2>&1 || :
fi
exit 0
