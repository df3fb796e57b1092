# Toolchain file: bare-metal Cortex-M4F (single-precision FPU, hard-float ABI)
# with the Debian packages gcc-arm-none-eabi, libnewlib-arm-none-eabi and
# libstdc++-arm-none-eabi-newlib. Used by mcu/target (scripts/build-mcu.sh):
#
#   cmake -S mcu/target -B build-mcu/O2 --toolchain cmake/arm-none-eabi.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
find_program(CMAKE_OBJCOPY arm-none-eabi-objcopy REQUIRED)
find_program(EDGEFLEET_ARM_SIZE arm-none-eabi-size REQUIRED)
find_program(EDGEFLEET_ARM_NM arm-none-eabi-nm REQUIRED)

# Nothing can run here, so the compiler checks build a library, not a program.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(EDGEFLEET_MCU_CPU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(CMAKE_C_FLAGS_INIT "${EDGEFLEET_MCU_CPU_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT "${EDGEFLEET_MCU_CPU_FLAGS}")
set(CMAKE_ASM_FLAGS_INIT "${EDGEFLEET_MCU_CPU_FLAGS}")
# newlib-nano; no crt0 (mcu/target/startup.cc is the reset path).
set(CMAKE_EXE_LINKER_FLAGS_INIT "${EDGEFLEET_MCU_CPU_FLAGS} -nostartfiles --specs=nano.specs")

# Headers and libraries from the toolchain's sysroot only, never the host's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
