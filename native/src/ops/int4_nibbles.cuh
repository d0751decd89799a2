// int4_nibbles.cuh — reading the packed INT4 layout (method.md §2.3 step 3, docs/conventions.md): byte j of a packed
// row = (q[2j+1] << 4) | (q[2j] & 0xF), each code a 4-bit two's complement number in −8..7. One byte at a time
// (lo_nibble, hi_nibble) and four bytes at a time in a 32-bit word (lo_nibbles4, hi_nibbles4: byte e of the result is
// the code of byte e of the input), for the element-wise and the transposing unpack kernels alike.
#pragma once

#include <stdint.h>

namespace i4t {

__device__ __forceinline__ int lo_nibble(uint8_t b) { return ((int)(b & 0xF) ^ 8) - 8; }   // sign-extend 4 bits
__device__ __forceinline__ int hi_nibble(uint8_t b) { return ((int)(b >> 4) ^ 8) - 8; }

// Sign-extends the 4-bit value in the low half of each byte of x (the high halves zero) to the whole byte: a byte
// whose bit 3 is set gets 0xF0 or'ed in. (x & 0x08080808)·0x1E puts 0x08·0x1E = 0xF0 in exactly the bytes with bit 3
// set: each product stays inside its own byte (0xF0 < 0x100, bits 4..7), so no carry crosses into the next byte and
// the top byte's 0xF0000000 still fits in 32 bits.
__device__ __forceinline__ uint32_t sign_extend_nibbles4(uint32_t x) { return x | ((x & 0x08080808u) * 0x1Eu); }
// The codes q[2j] of four packed bytes (byte e of w → byte e of the result), and the codes q[2j+1].
__device__ __forceinline__ uint32_t lo_nibbles4(uint32_t w) { return sign_extend_nibbles4(w & 0x0F0F0F0Fu); }
__device__ __forceinline__ uint32_t hi_nibbles4(uint32_t w) { return sign_extend_nibbles4((w >> 4) & 0x0F0F0F0Fu); }

}  // namespace i4t
