/* ProcessPrng for Wine 8, which lacks it: Rust's standard library (1.78 and later) asks
 * bcryptprimitives.dll for its random numbers. Forwards to RtlGenRandom (SystemFunction036),
 * which Wine has. Only for running the Windows build under Wine in `cargo xtask test`; real
 * Windows 10 and 11 ship ProcessPrng themselves. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
