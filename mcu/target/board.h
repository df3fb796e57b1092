// The bare-metal program's view of its board (mcu/target/startup.cc): how it
// reports, how it stops, and how much stack it used. Everything else about
// the machine (vector table, reset, FPU, memory map) stays in startup.cc and
// cortex-m4.ld.
#pragma once

#include <cstddef>

namespace edgefleet::mcu {

// Writes NUL-terminated text to the host's console through semihosting
// (SYS_WRITE0). Without EDGEFLEET_MCU_SEMIHOSTING it does nothing: on a board
// with no debugger attached, a semihosting call would fault.
void Write(const char* text);

// Ends the program. With semihosting: SYS_EXIT, which makes QEMU exit with
// status 0 when `passed`, else 1. Without: records the result in
// g_edgefleet_mcu_result (1 passed, 2 failed) for a debugger and sleeps.
[[noreturn]] void Finish(bool passed);

// The deepest the stack has reached since reset, from the pattern the reset
// handler paints over the free stack; and the stack's size (cortex-m4.ld).
std::size_t StackBytesUsed();
std::size_t StackBytesReserved();

}  // namespace edgefleet::mcu
