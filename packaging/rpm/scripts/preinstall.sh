# %pre: the tailgate system user (as packaging/linux/tailgate.sysusers says; the file itself is
# not installed yet). `adm` owns the web servers' logs on some systems; where it is missing the
# service's CAP_DAC_READ_SEARCH reads them.
if command -v systemd-sysusers >/dev/null 2>&1; then
    printf '%s\n' 'u tailgate - "tailgate log agent" /var/lib/tailgate -' 'm tailgate adm' | systemd-sysusers - || exit 1
else
    getent group tailgate >/dev/null || groupadd -r tailgate || exit 1
    getent passwd tailgate >/dev/null || useradd -r -g tailgate -d /var/lib/tailgate -s /sbin/nologin -c "tailgate log agent" tailgate || exit 1
    getent group adm >/dev/null && usermod -a -G adm tailgate
fi
exit 0
