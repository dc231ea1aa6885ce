# %preun ($1: 0 erase, 1 upgrade): stop and disable the service on erase (like %systemd_preun).
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now tailgate.service >/dev/null 2>&1 || :
fi
# The systemd-219 override %post installed (only if it is still ours, unchanged).
if [ "$1" -eq 0 ] && cmp -s /usr/share/tailgate/systemd219/tailgate.service /etc/systemd/system/tailgate.service; then
    rm -f /etc/systemd/system/tailgate.service
fi
exit 0
