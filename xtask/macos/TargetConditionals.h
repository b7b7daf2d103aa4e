/* The part of Apple's SDK header that ring's C code reads, for checking the macOS build on
 * Linux (`cargo xtask test`). Nothing is linked: without Apple's SDK no binary can be made. */
#ifndef TARGET_CONDITIONALS_STAND_IN
#define TARGET_CONDITIONALS_STAND_IN
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_TV 0
#define TARGET_OS_VISION 0
#define TARGET_OS_MACCATALYST 0
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_EMBEDDED 0
#define TARGET_IPHONE_SIMULATOR 0
#endif
