/* For tests under wine only, never shipped: Debian 12's wine 8.0 has no
 * ProcessPrng in bcryptprimitives.dll (wine 8.13 added it), and Rust's std
 * (since 1.78) imports it for HashMap keys and other randomness, so every
 * Rust .exe fails to start there with "bcryptprimitives.dll not found".
 * Built by scripts/wine-run.sh with `zig cc -target x86_64-windows-gnu
 * -shared` into bcryptprimitives.dll, placed beside the .exe under test.
 * It fills the buffer from RtlGenRandom (advapi32's SystemFunction036). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
