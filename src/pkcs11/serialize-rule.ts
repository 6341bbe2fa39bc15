// Which modules are called one operation at a time, initialised with C_Initialize(NULL_PTR)
// instead of CKF_OS_LOCKING_OK (see ModuleGate in session-pool.ts for what that means).
//
// OpenSC 0.23 deadlocks with CKF_OS_LOCKING_OK when a card operation meets a removal, and
// p11-kit-proxy passes the flag on to the modules it loads, OpenSC among them. The proxy is
// known by two names: the p11-kit-proxy.so a user types, and the libp11-kit.so.0.x it is a
// symlink to, which is the path the module host is handed after the allowlist check.

const NO_OS_LOCKING = [/opensc-pkcs11/, /p11-kit-proxy/, /^libp11-kit\.so(\.\d+)*$/];

/** True when the module at this path (as given, or its realpath) must be serialized. */
export function needsSerializedCalls(...paths: string[]): boolean {
  return paths.some((p) => {
    const base = p.split('/').pop() ?? p;
    return NO_OS_LOCKING.some((re) => re.test(base));
  });
}
