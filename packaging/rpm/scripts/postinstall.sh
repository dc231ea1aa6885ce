# %post ($1: 1 first install, 2 upgrade). systemd creates these for the service too
# (StateDirectory=, LogsDirectory=); here so `tailgate` also works without systemd as PID 1.
install -d -o tailgate -g tailgate -m 0750 /var/lib/tailgate /var/log/tailgate
# systemd older than 235 (CentOS/RHEL 7: 219) does not know most of the main unit's hardening and
# would run the service with less than it says: use the unit written for it, as the override in
# /etc (never over one the administrator put there).
v=$(systemctl --version 2>/dev/null | awk 'NR == 1 { print $2 }')
case "$v" in
    ''|*[!0-9]*) ;;
    *)
        if [ "$v" -lt 235 ] && [ ! -e /etc/systemd/system/tailgate.service ]; then
            install -m 0644 /usr/share/tailgate/systemd219/tailgate.service /etc/systemd/system/tailgate.service
        fi
        ;;
esac
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
