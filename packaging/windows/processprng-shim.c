/* Test-only shim for Wine 8.0, which lacks bcryptprimitives.dll!ProcessPrng (Rust's std on
 * Windows gets its random numbers there since Rust 1.78). Built by packaging/windows/test.sh into
 * the Wine prefix's system32 as bcryptprimitives.dll; never shipped. It forwards to
 * advapi32!SystemFunction036 (RtlGenRandom), which Wine has. */
#include <windows.h>

typedef BOOLEAN (WINAPI *RtlGenRandomFn)(PVOID, ULONG);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    static RtlGenRandomFn gen;
    if (!gen) {
        HMODULE m = LoadLibraryA("advapi32.dll");
        if (!m) return FALSE;
        gen = (RtlGenRandomFn)GetProcAddress(m, "SystemFunction036");
        if (!gen) return FALSE;
    }
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!gen(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
