// test_transpose_codes.cu — the transposing unpack of the LSS GEMM operands (ops/transpose_codes.cu) against a host
// loop, byte for byte: out[c, r] = code[r, c] for r < rows, c < cols, zero for the rest of cols_pad × ld_rows, nothing
// written past it. Fresh random packed bytes (every byte value: all nibble pairs, −8 included); rows 1, 17, 300 and
// 4101; cols that give the tiled kernel 16-, 8- and 4-byte chunks, and cols % 8 ≠ 0 (the 32 × 32 kernel); tight and
// padded layouts, ld_rows % 16 ≠ 0, a packed pointer 4 bytes off and an output 1 byte off (the 32 × 32 kernel); the
// same cases on a context with INT4TRAIN_GENERIC_KERNELS=1; and two jobs in one launch (unpack_transpose_pad_two).
#include "selftest.h"

#include "ops/operators.cuh"

namespace {

constexpr size_t kGuard = 64;        // bytes after the output that must keep the poison
constexpr uint8_t kPoison = 0xA5;    // DBuf's fill

struct Layout {
    int cols_pad, ld_rows;
    int packed_offset, out_offset;  // bytes past a 256-byte aligned allocation
};

// The host's expected output (cols_pad × ld_rows) of packed rows (rows × cols/2): the convention's nibbles,
// byte j of a row = (q[2j+1] << 4) | (q[2j] & 0xF), each a 4-bit two's complement code.
std::vector<int8_t> host_transpose(const std::vector<uint8_t>& packed, int rows, int cols, const Layout& l) {
    std::vector<int8_t> out((size_t)l.cols_pad * l.ld_rows, 0);
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const uint8_t b = packed[(size_t)r * (cols / 2) + c / 2];
            const int nibble = (c & 1) ? b >> 4 : b & 0xF;
            out[(size_t)c * l.ld_rows + r] = (int8_t)((nibble ^ 8) - 8);
        }
    return out;
}

std::vector<uint8_t> random_packed(int rows, int cols) {
    std::vector<uint8_t> v((size_t)rows * (cols / 2));
    for (auto& b : v) b = (uint8_t)(rng() & 0xFF);
    return v;
}

// A device job for `packed` in `l`: the packed rows and the poisoned output (with its guard) at their offsets.
struct DeviceJob {
    DBuf<uint8_t> in;
    DBuf<int8_t> out;
    i4t::CodesTranspose job;
    DeviceJob(const std::vector<uint8_t>& packed, int rows, int cols, const Layout& l)
        : in(packed.size() + 16), out((size_t)l.cols_pad * l.ld_rows + kGuard + 16) {
        CUDA_CK(cudaMemcpy(in.p + l.packed_offset, packed.data(), packed.size(), cudaMemcpyHostToDevice));
        CUDA_CK(cudaDeviceSynchronize());
        job = {in.p + l.packed_offset, rows, cols, out.p + l.out_offset, l.cols_pad, l.ld_rows};
    }
    // Bytes of the output that differ from `want`, plus guard bytes after it that lost the poison.
    size_t wrong(const std::vector<int8_t>& want, const Layout& l) const {
        const std::vector<int8_t> got = out.down();
        size_t bad = 0;
        for (size_t i = 0; i < want.size(); ++i) bad += got[l.out_offset + i] != want[i];
        for (size_t i = 0; i < kGuard; ++i) bad += (uint8_t)got[l.out_offset + want.size() + i] != kPoison;
        return bad;
    }
};

const char* path_name(int chunk) {
    return chunk == 16 ? "tiled, 16-byte chunks" : chunk == 8 ? "tiled, 8-byte chunks" : chunk == 4 ? "tiled, 4-byte chunks" : "32×32";
}

// One shape in each layout on one context; ors the kernels taken into *taken (1: 32×32, 4/8/16: the chunk width).
void check_shape(int4train_context ctx, const char* name, int rows, int cols, unsigned* taken) {
    const int ld16 = (rows + 15) / 16 * 16;
    const std::vector<Layout> layouts = {
        {cols, ld16, 0, 0},                                           // the LSS operands' usual layout
        {(cols + 127) / 128 * 128 + 4, (rows + 31) / 32 * 32 + 32, 0, 0},  // wide padding in both directions
        {cols + 2, rows, 0, 0},                                       // ld_rows = rows (% 16 ≠ 0 unless rows is)
        {cols, ld16, 4, 0},                                           // packed 4 bytes past 16-byte alignment
        {cols, ld16, 0, 1},                                           // output misaligned
    };
    const std::vector<uint8_t> packed = random_packed(rows, cols);
    std::string detail;
    size_t bad_total = 0;
    for (const Layout& l : layouts) {
        DeviceJob d(packed, rows, cols, l);
        const int chunk = i4t::codes_transpose_chunk_bytes(ctx, d.job);
        *taken |= chunk ? (unsigned)chunk : 1u;
        CK(i4t::unpack_transpose_pad(ctx, d.job.packed, rows, cols, d.job.out, l.cols_pad, l.ld_rows));
        CK(int4train_context_synchronize(ctx));
        const size_t bad = d.wrong(host_transpose(packed, rows, cols, l), l);
        bad_total += bad;
        detail += fmt("%s%d×%d (%s): %zu wrong", detail.empty() ? "" : "; ", l.cols_pad, l.ld_rows, path_name(chunk), bad);
    }
    report(bad_total == 0, name, fmt("rows=%d cols=%d: %s", rows, cols, detail.c_str()));
}

// X and W of one backward in one launch (different rows, padding and chunk widths), as lss_folded.cu calls it.
void check_two(int4train_context ctx, int n, int c, int d, int w_packed_offset) {
    const Layout lx{d, (n + 31) / 32 * 32, 0, 0}, lw{d, (c + 31) / 32 * 32, w_packed_offset, 0};
    const std::vector<uint8_t> px = random_packed(n, d), pw = random_packed(c, d);
    DeviceJob x(px, n, d, lx), w(pw, c, d, lw);
    CK(i4t::unpack_transpose_pad_two(ctx, x.job, w.job));
    CK(int4train_context_synchronize(ctx));
    const size_t bx = x.wrong(host_transpose(px, n, d, lx), lx), bw = w.wrong(host_transpose(pw, c, d, lw), lw);
    report(bx + bw == 0, "codes transposed, X and W in one launch = host loop (bits)",
           fmt("n=%d c=%d d=%d (W %s, X %s): wrong bytes X %zu, W %zu", n, c, d,
               path_name(i4t::codes_transpose_chunk_bytes(ctx, w.job)),
               path_name(i4t::codes_transpose_chunk_bytes(ctx, x.job)), bx, bw));
}

}  // namespace

void test_transpose_codes(int4train_context ctx) {
    const std::vector<int> rows = g_quick ? std::vector<int>{1, 17, 300} : std::vector<int>{1, 17, 300, 4096 + 5};
    // cols/2 % 16 == 0 (64, 1056), % 8 (48), % 4 (8, 136, 200), cols % 8 ≠ 0 (30, 2)
    const std::vector<int> cols = {2, 8, 30, 48, 64, 136, 200, 1056};
    unsigned taken = 0;
    for (int r : rows)
        for (int c : cols) check_shape(ctx, "codes transposed = host loop (bits)", r, c, &taken);
    report(taken == (1u | 4u | 8u | 16u), "codes transposed: the cases took every kernel",
           fmt("32×32 %s, 4-byte chunks %s, 8-byte %s, 16-byte %s", taken & 1 ? "yes" : "no", taken & 4 ? "yes" : "no",
               taken & 8 ? "yes" : "no", taken & 16 ? "yes" : "no"));
    check_two(ctx, 300, 17, 64, 0);
    check_two(ctx, 1000, 520, 1056, 4);   // W's packed rows 4 bytes off: both in one launch with 4-byte chunks
    check_two(ctx, 77, 4101, 136, 0);
    const char* generic_name = "codes transposed, generic kernels = host loop (bits)";
    int4train_context generic = create_generic_context(generic_name);
    if (!generic) return;
    unsigned generic_taken = 0;
    for (int r : rows)
        for (int c : {8, 30, 64, 200}) check_shape(generic, generic_name, r, c, &generic_taken);
    check_two(generic, 300, 17, 64, 0);
    int4train_context_destroy(generic);
}
