// Reset and exception entry of the bare-metal program on a Cortex-M4F, and
// the board services of board.h.
//
// Reset order matters: the FPU is enabled (CPACR) before any code that could
// touch a floating-point register runs, so the first part of the reset
// handler is assembly; then .data is copied from flash, .bss zeroed, the free
// stack painted (for StackBytesUsed), static constructors run, and main().
#include <cstddef>
#include <cstdint>

#include "board.h"

// Symbols of cortex-m4.ld.
extern "C" {
extern std::uint32_t __data_start[];
extern std::uint32_t __data_end[];
extern const std::uint32_t __data_load[];
extern std::uint32_t __bss_start[];
extern std::uint32_t __bss_end[];
extern std::uint32_t __stack_limit[];
extern std::uint32_t __stack_top[];
extern void (*const __init_array_start[])();
extern void (*const __init_array_end[])();

// Read by a debugger when there is no semihosting: 0 running, 1 passed, 2 failed.
volatile std::uint32_t g_edgefleet_mcu_result = 0;

void Reset_Handler();
[[noreturn]] void edgefleet_mcu_reset_continue();
void Default_Handler();
void HardFault_Handler();
}

int main();

namespace {

constexpr std::uint32_t kStackPaint = 0xC0FFEE5Au;
// Bytes below the stack pointer that the reset code may still use after
// painting (its own calls); the paint stops this far below it.
constexpr std::uintptr_t kPaintMargin = 64;

// Cortex-M semihosting: operation in r0, argument in r1, then BKPT 0xAB.
constexpr std::uint32_t kSysWrite0 = 0x04;
constexpr std::uint32_t kSysExit = 0x18;
constexpr std::uint32_t kAdpStoppedApplicationExit = 0x20026;
constexpr std::uint32_t kAdpStoppedRunTimeErrorUnknown = 0x20023;

[[maybe_unused]] std::uint32_t Semihost(std::uint32_t operation, const void* argument) {
  std::uint32_t result = 0;
  __asm volatile(
      "mov r0, %1\n"
      "mov r1, %2\n"
      "bkpt 0xab\n"
      "mov %0, r0\n"
      : "=r"(result)
      : "r"(operation), "r"(argument)
      : "r0", "r1", "memory");
  return result;
}

std::uintptr_t StackPointer() {
  std::uintptr_t sp = 0;
  __asm volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

using Handler = void (*)();

// The vector table: initial stack pointer, then the system exceptions. No
// peripheral interrupt is enabled, so the table stops after SysTick.
struct VectorTable {
  const void* initial_stack;
  Handler reset;
  Handler nmi;
  Handler hard_fault;
  Handler mem_manage;
  Handler bus_fault;
  Handler usage_fault;
  Handler reserved[4];
  Handler svcall;
  Handler debug_monitor;
  Handler reserved2;
  Handler pendsv;
  Handler systick;
};

}  // namespace

extern "C" __attribute__((section(".isr_vector"), used)) const VectorTable g_vector_table = {
    __stack_top,
    Reset_Handler,
    Default_Handler,
    HardFault_Handler,
    HardFault_Handler,
    HardFault_Handler,
    HardFault_Handler,
    {nullptr, nullptr, nullptr, nullptr},
    Default_Handler,
    Default_Handler,
    nullptr,
    Default_Handler,
    Default_Handler,
};

// Full access to CP10 and CP11 (the FPU) in CPACR, then DSB and ISB so that
// the next instruction sees it. No C++ here: the compiler may use FP
// registers anywhere in compiled code.
extern "C" __attribute__((naked, noreturn)) void Reset_Handler() {
  __asm volatile(
      "movw r0, #0xED88\n"
      "movt r0, #0xE000\n"  // CPACR
      "ldr r1, [r0]\n"
      "orr r1, r1, #(0xF << 20)\n"
      "str r1, [r0]\n"
      "dsb\n"
      "isb\n"
      "b edgefleet_mcu_reset_continue\n");
}

extern "C" [[noreturn]] void edgefleet_mcu_reset_continue() {
  const std::uint32_t* from = __data_load;
  for (std::uint32_t* to = __data_start; to < __data_end;) *to++ = *from++;
  for (std::uint32_t* p = __bss_start; p < __bss_end;) *p++ = 0;
  const std::uintptr_t paint_end = StackPointer() - kPaintMargin;
  for (std::uint32_t* p = __stack_limit; reinterpret_cast<std::uintptr_t>(p) < paint_end;) {
    *p++ = kStackPaint;
  }
  for (auto* init = __init_array_start; init < __init_array_end; ++init) (*init)();
  const int status = main();
  edgefleet::mcu::Finish(status == 0);
}

extern "C" void Default_Handler() {
  edgefleet::mcu::Write("edgefleet-mcu: FAIL: unexpected exception\n");
  edgefleet::mcu::Finish(false);
}

extern "C" void HardFault_Handler() {
  edgefleet::mcu::Write("edgefleet-mcu: FAIL: hard fault\n");
  edgefleet::mcu::Finish(false);
}

namespace edgefleet::mcu {

void Write([[maybe_unused]] const char* text) {
#if EDGEFLEET_MCU_SEMIHOSTING
  Semihost(kSysWrite0, text);
#endif
}

void Finish(bool passed) {
  g_edgefleet_mcu_result = passed ? 1u : 2u;
#if EDGEFLEET_MCU_SEMIHOSTING
  Semihost(kSysExit, reinterpret_cast<const void*>(
                         passed ? kAdpStoppedApplicationExit : kAdpStoppedRunTimeErrorUnknown));
#endif
  for (;;) __asm volatile("wfi");
}

std::size_t StackBytesUsed() {
  const std::uint32_t* p = __stack_limit;
  while (p < __stack_top && *p == kStackPaint) ++p;
  return static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(__stack_top) -
                                  reinterpret_cast<std::uintptr_t>(p));
}

std::size_t StackBytesReserved() {
  return static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(__stack_top) -
                                  reinterpret_cast<std::uintptr_t>(__stack_limit));
}

}  // namespace edgefleet::mcu
