// iPXE script text. Pure: values in, script out.

/** Characters allowed in anything we paste into a script line unquoted. */
export function ipxeSafe(value: string): string {
  // iPXE expands ${…} and splits on spaces; strip what could change the script's meaning.
  return value.replace(/[\s${}|&;#"'`\\]/g, '');
}

/**
 * The bootstrap every iPXE fetches first (HTTP /boot.ipxe, TFTP boot.ipxe / autoexec.ipxe):
 * asks the policy for this NIC's script; if the server is unreachable, `exit` hands back
 * to the firmware so it tries the next boot device.
 */
export function renderBootstrapScript(httpBase: string): string {
  return [
    '#!ipxe',
    '# pxe-pilot bootstrap: ask for this machine\'s script; on failure return to the firmware.',
    'isset ${mac} || set mac ${net0/mac}',
    `chain --autofree ${httpBase}/boot?mac=\${mac:hexhyp}&arch=\${buildarch}&platform=\${platform}&uuid=\${uuid}&serial=\${serial:uristring} || goto unreachable`,
    'exit',
    ':unreachable',
    'echo pxe-pilot: ' + httpBase + ' did not answer; returning to firmware',
    'exit',
    '',
  ].join('\n');
}

export function renderLocalScript(reason: string, script = 'exit'): string {
  return ['#!ipxe', `echo pxe-pilot: local disk (${ipxeSafe(reason).slice(0, 200)})`, script, ''].join('\n');
}
