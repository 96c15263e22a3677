/*
 * xdf-keys: a boot sector that shows a line and then echoes every key
 * typed, for the real-Xen tests of a guest's keyboard: SeaBIOS boots it
 * from the guest's first disk; it clears the 80x25 text screen, hides
 * the cursor (so that a picture of the screen does not blink), prints
 * its banner and then each key's character as the BIOS reads it (Enter
 * starts a new line).
 *
 * Copyright (c) 2026 The xen-displfront authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
    .code16
    .text
    .globl _start
_start:
    cli
    xor     %ax, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     $0x7c00, %sp
    sti
    mov     $0x0003, %ax            /* 80x25 text: a clear screen */
    int     $0x10
    mov     $0x01, %ah              /* no cursor */
    mov     $0x2000, %cx
    int     $0x10
    mov     $banner, %si
1:  lodsb
    test    %al, %al
    jz      2f
    call    putc
    jmp     1b
2:  xor     %ah, %ah                /* wait for a key: AL its character */
    int     $0x16
    cmp     $0x0d, %al
    jne     3f
    call    putc
    mov     $0x0a, %al
3:  call    putc
    jmp     2b

putc:
    mov     $0x0e, %ah
    mov     $0x0007, %bx
    int     $0x10
    ret

banner:
    .asciz  "xdf-keys: the keys typed appear here> "

    .org    510
    .word   0xaa55
