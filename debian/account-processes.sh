# Included by scripts/build-deb.mjs in prerm and postrm, where their placeholder line stands.
# The processes of the pxe-pilot account (real, effective or saved uid), one "pid: command" line
# each, read from /proc (procps is not a dependency). Nothing when the account or its processes
# are gone. The package only ever names them: it never ends a process it did not start.
account_processes() {
    uid=$(getent passwd pxe-pilot | cut -d : -f 3)
    [ -n "$uid" ] || return 0
    for status in /proc/[0-9]*/status; do
        pid=${status#/proc/}
        pid=${pid%/status}
        while read -r field real effective saved rest; do
            [ "$field" = Uid: ] || continue
            case " $real $effective $saved " in
            *" $uid "*)
                command=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null) || command=
                echo "$pid: ${command% }"
                ;;
            esac
            break
        done 2> /dev/null < "$status" || true
    done
}
