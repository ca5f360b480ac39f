// neurofab compiled script player: plays a transaction script (neurofab.cosim.player.Script)
// on a Verilated design, with no Python in the simulation loop.
//
// Built by neurofab.cosim.verilator.build together with the Verilated model of one design
// (`verilator --cc --exe --prefix Vtop`) and a generated header `nf_ports.h` that lists the
// design's top-level ports (from Verilator's Vtop.h):
//   #define NF_PORTS(X) X(cxx, "name", msb, lsb) ...  every top-level port (its C++ member
//                                               and Verilog names, bit range)
//   #define NF_CLK clk                          the clock, if the design has one
//   #define NF_RST rst                          the sync reset, if any (pulsed for two
//                                               clock edges before the script, then low)
//   #define NF_TRACE 1                          built with --trace (enables --vcd)
//
// Usage: player JOB RESULT [--vcd PATH] [--progress-fd FD]
// Reads the job (binary, below), plays it, writes the result (binary, below). While it runs
// it writes one line per finished phase ("<k>\n") to file descriptor FD, if given (not to
// stdout, where the design's own $display output goes).
// Exit status 0 on success (a timed-out phase included), 2 on a bad job or usage.
//
// Semantics (the same as the cocotb player's):
// * At each clock edge the player first reads the design's outputs as that edge samples
//   them, decides the transfers of the edge, and drives its inputs for the next cycle; the
//   new input values are applied after the edge (clk high, eval, inputs, clk low, eval).
// * A design without a clock is evaluated once per "cycle": read, decide, write, eval.
// * Put: before each payload an idle cycle with probability `gap` (repeatedly); a payload
//   once valid holds until taken. Get: `ready` low in a cycle with probability `stall`;
//   stops after `count` payloads, or after the first with a bit of `last_mask` set.
//   Mem: requests back to back (gap rolled while no request is offered), one response each,
//   `stall` on the response's `ready`.
// * A phase starts at the edge where the previous one ended; it ends at the edge of its
//   last transfer. A phase running longer than its timeout ends the run (end = -1).
// * Random numbers: splitmix64 seeded from (seed, phase, op, role): deterministic.
//
// Job file (little-endian):
//   char[8] "NFJOB01\0"; u64 seed; u64 period_ps (VCD time of one clock)
//   u32 n_ports; per port: u32 len, name bytes             (stream port base names)
//   u32 n_arrays; per array: u32 words, u64 count, count*words u64 (value = words, LSW first)
//   u32 n_phases; per phase: u64 timeout; u32 n_ops; per op:
//       u32 kind (0 Put, 1 Get, 2 Mem); u32 port (Put/Get port, Mem request port);
//       u32 port2 (Mem response port, else 0); f64 gap; f64 stall;
//       u32 array (Put/Mem payloads; Get: last_mask as a one-value array, or 0xFFFFFFFF);
//       i64 count (Get: payload count, or -1 with a last_mask)
// Result file (little-endian):
//   char[8] "NFRES01\0"; i64 timed-out phase (-1: none); u64 cycles (total)
//   u32 n_phases (reported); per phase: i64 start; i64 end (-1: timed out); u32 n_ops;
//       per op: i64 n (-1: a Put, no data); u32 words; n*words u64

#include "Vtop.h"
#include "verilated.h"
#include "nf_ports.h"
#ifdef NF_TRACE
#include "verilated_vcd_c.h"
#endif

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& msg) {
    std::fprintf(stderr, "player: %s\n", msg.c_str());
    std::exit(2);
}

// --- signals ------------------------------------------------------------------------
// One top-level port of the model, read and written as little-endian 64-bit words.
struct Sig {
    std::string name;
    int width = 0;
    int words = 1;      // 64-bit words of a value
    int kind = 0;       // 1, 2, 4, 8: bytes of the C type; 0: VlWide (32-bit words)
    void* ptr = nullptr;
    // staged value (applied after the edge)
    std::vector<uint64_t> pend;
    bool dirty = false;

    uint64_t mask_top() const {
        int r = width % 64;
        return r ? (~uint64_t(0) >> (64 - r)) : ~uint64_t(0);
    }
    uint64_t get() const {        // low 64 bits
        switch (kind) {
        case 1: return *static_cast<const uint8_t*>(ptr);
        case 2: return *static_cast<const uint16_t*>(ptr);
        case 4: return *static_cast<const uint32_t*>(ptr);
        case 8: return *static_cast<const uint64_t*>(ptr);
        default: {
            const uint32_t* w = static_cast<const uint32_t*>(ptr);
            return uint64_t(w[0]) | (uint64_t(w[1]) << 32);
        }
        }
    }
    void get(uint64_t* out) const {
        if (kind) { out[0] = get(); return; }
        const uint32_t* w = static_cast<const uint32_t*>(ptr);
        int n32 = (width + 31) / 32;
        for (int i = 0; i < words; ++i) {
            uint64_t lo = 2 * i < n32 ? w[2 * i] : 0;
            uint64_t hi = 2 * i + 1 < n32 ? w[2 * i + 1] : 0;
            out[i] = lo | (hi << 32);
        }
    }
    void put_now(const uint64_t* v) {
        switch (kind) {
        case 1: *static_cast<uint8_t*>(ptr) = uint8_t(v[0] & mask_top()); return;
        case 2: *static_cast<uint16_t*>(ptr) = uint16_t(v[0] & mask_top()); return;
        case 4: *static_cast<uint32_t*>(ptr) = uint32_t(v[0] & mask_top()); return;
        case 8: *static_cast<uint64_t*>(ptr) = v[0] & mask_top(); return;
        default: {
            uint32_t* w = static_cast<uint32_t*>(ptr);
            int n32 = (width + 31) / 32;
            for (int i = 0; i < n32; ++i) {
                uint64_t x = v[i / 2];
                if (i / 2 == words - 1) x &= mask_top();
                w[i] = uint32_t(i % 2 ? x >> 32 : x);
            }
        }
        }
    }
};

std::vector<Sig*> g_dirty;

// Stage a value (``n`` words, zero-extended / truncated to the port) for after the edge.
void stage(Sig* s, const uint64_t* v, int n) {
    for (int i = 0; i < s->words; ++i) s->pend[i] = i < n ? v[i] : 0;
    if (!s->dirty) { s->dirty = true; g_dirty.push_back(s); }
}
void stage(Sig* s, uint64_t v) { stage(s, &v, 1); }
void apply_staged() {
    for (Sig* s : g_dirty) { s->put_now(s->pend.data()); s->dirty = false; }
    g_dirty.clear();
}

template <typename T> int kind_of(T*) { return int(sizeof(T)); }
template <std::size_t N> int kind_of(VlWide<N>*) { return 0; }
template <typename T> void* addr_of(T* p) { return static_cast<void*>(p); }
template <std::size_t N> void* addr_of(VlWide<N>* p) { return static_cast<void*>(p->data()); }

template <typename T>
Sig make_sig(const char* name, int msb, int lsb, T* p) {
    Sig s;
    s.name = name;
    s.width = (msb > lsb ? msb - lsb : lsb - msb) + 1;
    s.words = (s.width + 63) / 64;
    s.kind = kind_of(p);
    s.ptr = addr_of(p);
    s.pend.assign(s.words, 0);
    return s;
}

// --- random numbers -----------------------------------------------------------------
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed) {}
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
    bool roll(double p) { return p > 0.0 && uniform() < p; }
};

uint64_t mix(uint64_t a, uint64_t b) {
    Rng r(a ^ (b * 0xD6E8FEB86659FD93ull));
    return r.next();
}

// --- the job ------------------------------------------------------------------------
struct Reader {
    std::vector<char> buf;
    size_t pos = 0;
    template <typename T> T get() {
        if (pos + sizeof(T) > buf.size()) fail("job file truncated");
        T v;
        std::memcpy(&v, buf.data() + pos, sizeof(T));
        pos += sizeof(T);
        return v;
    }
    void words(size_t n, std::vector<uint64_t>& out) {
        if (n > (buf.size() - pos) / 8) fail("job file truncated");
        out.resize(n);
        if (n) std::memcpy(out.data(), buf.data() + pos, 8 * n);
        pos += 8 * n;
    }
};

struct Array {
    int words = 1;
    uint64_t count = 0;
    std::vector<uint64_t> store;
    const uint64_t* data = nullptr;
};

struct Port {
    std::string name;
    Sig* valid = nullptr;
    Sig* ready = nullptr;
    Sig* payload = nullptr;
};

enum { PUT = 0, GET = 1, MEM = 2 };

struct OpSpec {
    uint32_t kind, port, port2, array;
    double gap, stall;
    int64_t count;
};

struct PhaseSpec {
    uint64_t timeout;
    std::vector<OpSpec> ops;
};

// An operation of the current phase. edge() runs at every clock edge until it is done.
struct Op {
    int kind = PUT;
    Port* p = nullptr;       // Put/Get port, Mem request port
    Port* q = nullptr;       // Mem response port
    const Array* arr = nullptr;
    double gap = 0, stall = 0;
    int64_t count = -1;
    std::vector<uint64_t> mask;     // Get: last_mask (empty: none)
    Rng rng{0};
    bool done = false;
    // state
    uint64_t i = 0;          // Put: index; Mem: requests sent
    uint64_t idle = 0;       // Put: idle cycles left before the next offer
    bool offered = false;    // Mem: a request is valid
    bool ready = true;       // Get/Mem: ready driven this cycle
    std::vector<uint64_t> out;
    uint64_t nout = 0;
    int out_words = 1;
    std::vector<uint64_t> tmp;

    const uint64_t* value(uint64_t k) const { return arr->data + k * uint64_t(arr->words); }

    void take(Port* port) {
        size_t at = out.size();
        out.resize(at + out_words);
        port->payload->get(out.data() + at);
        ++nout;
    }

    // -- Put --
    void put_next() {
        if (i == arr->count) { stage(p->valid, 0); done = true; return; }
        idle = 0;
        if (gap > 0.0)
            while (rng.roll(gap)) ++idle;
        if (idle) {
            stage(p->valid, 0);
        } else {
            stage(p->payload, value(i), arr->words);
            stage(p->valid, 1);
        }
    }
    // -- Get --
    void get_decide() {
        if (stall > 0.0) {
            ready = !rng.roll(stall);
            stage(p->ready, ready);
        }
    }
    bool last_hit() const {
        if (mask.empty()) return false;
        const uint64_t* v = out.data() + out.size() - out_words;
        for (size_t k = 0; k < mask.size() && k < size_t(out_words); ++k)
            if (v[k] & mask[k]) return true;
        return false;
    }
    // -- Mem --
    void mem_prepare() {
        if (i < arr->count && !offered && !rng.roll(gap)) {
            stage(p->payload, value(i), arr->words);
            stage(p->valid, 1);
            offered = true;
        }
        if (stall > 0.0) {
            ready = !rng.roll(stall);
            stage(q->ready, ready);
        }
    }

    void start() {
        switch (kind) {
        case PUT:
            i = 0;
            put_next();
            return;
        case GET:
            out_words = p->payload->words;
            if (count == 0) { done = true; return; }
            ready = true;
            stage(p->ready, 1);
            get_decide();
            return;
        default:
            out_words = q->payload->words;
            if (arr->count == 0) { done = true; return; }
            i = 0;
            offered = false;
            ready = true;
            stage(q->ready, 1);
            mem_prepare();
            return;
        }
    }

    void edge() {
        switch (kind) {
        case PUT:
            if (idle) {
                if (!--idle) {
                    stage(p->payload, value(i), arr->words);
                    stage(p->valid, 1);
                }
                return;
            }
            if (p->ready->get() & 1) {
                ++i;
                put_next();
            }
            return;
        case GET:
            if (!(p->valid->get() & 1)) { get_decide(); return; }
            if (ready) {
                take(p);
                if ((count >= 0 && int64_t(nout) == count) || last_hit()) {
                    stage(p->ready, 0);
                    done = true;
                    return;
                }
            }
            get_decide();
            return;
        default: {
            bool took = offered && (p->ready->get() & 1);
            bool rvalid = q->valid->get() & 1;
            if (rvalid && ready) take(q);
            if (took) {
                ++i;
                offered = false;
                if (i == arr->count || gap > 0.0) stage(p->valid, 0);
            }
            if (nout == arr->count) {
                stage(p->valid, 0);
                stage(q->ready, 0);
                done = true;
                return;
            }
            mem_prepare();
            return;
        }
        }
    }
};

struct PhaseOut {
    int64_t start = 0, end = -1;
    std::vector<Op> ops;
};

void put_u32(std::FILE* f, uint32_t v) { std::fwrite(&v, 4, 1, f); }
void put_i64(std::FILE* f, int64_t v) { std::fwrite(&v, 8, 1, f); }

}  // namespace

int main(int argc, char** argv) {
    const char* job_path = nullptr;
    const char* result_path = nullptr;
    const char* vcd_path = nullptr;
    int progress_fd = -1;
    const char* usage = "usage: player JOB RESULT [--vcd PATH] [--progress-fd FD]";
    for (int a = 1; a < argc; ++a) {
        std::string s = argv[a];
        if (s == "--vcd" && a + 1 < argc) vcd_path = argv[++a];
        else if (s == "--progress-fd" && a + 1 < argc) progress_fd = std::atoi(argv[++a]);
        else if (!job_path) job_path = argv[a];
        else if (!result_path) result_path = argv[a];
        else fail(usage);
    }
    if (!job_path || !result_path) fail(usage);
    std::signal(SIGPIPE, SIG_IGN);     // a progress reader that went away is no error
#ifndef NF_TRACE
    if (vcd_path) fail("--vcd needs a player built with tracing");
#endif

    // -- read the job --
    Reader rd;
    {
        std::FILE* f = std::fopen(job_path, "rb");
        if (!f) fail(std::string("cannot open ") + job_path);
        std::fseek(f, 0, SEEK_END);
        long size = std::ftell(f);
        std::fseek(f, 0, SEEK_SET);
        rd.buf.resize(size_t(size));
        if (size && std::fread(rd.buf.data(), 1, size_t(size), f) != size_t(size))
            fail("cannot read the job");
        std::fclose(f);
    }
    if (rd.buf.size() < 8 || std::memcmp(rd.buf.data(), "NFJOB01", 8) != 0)
        fail("not a neurofab player job (bad magic)");
    rd.pos = 8;
    const uint64_t seed = rd.get<uint64_t>();
    const uint64_t period_ps = rd.get<uint64_t>();

    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(1, argv);
#ifdef NF_TRACE
    if (vcd_path) ctx->traceEverOn(true);
#endif
    auto top = std::make_unique<Vtop>(ctx.get());

    std::vector<Sig> sigs;
#define NF_SIG(cxx, name, msb, lsb) sigs.push_back(make_sig(name, msb, lsb, &top->cxx));
    NF_PORTS(NF_SIG)
#undef NF_SIG
    auto find = [&](const std::string& n) -> Sig* {
        for (Sig& s : sigs)
            if (s.name == n) return &s;
        return nullptr;
    };

    std::vector<Port> ports(rd.get<uint32_t>());
    for (Port& p : ports) {
        uint32_t len = rd.get<uint32_t>();
        if (rd.pos + len > rd.buf.size()) fail("job file truncated");
        p.name.assign(rd.buf.data() + rd.pos, len);
        rd.pos += len;
        p.valid = find(p.name + "__valid");
        p.ready = find(p.name + "__ready");
        p.payload = find(p.name + "__payload");
        if (!p.valid || !p.ready || !p.payload) {
            std::string have;
            for (Sig& s : sigs) have += " " + s.name;
            fail("the design has no stream port '" + p.name + "' (" + p.name +
                 "__valid/__ready/__payload); its ports:" + have);
        }
    }
    std::vector<Array> arrays(rd.get<uint32_t>());
    for (Array& a : arrays) {
        a.words = int(rd.get<uint32_t>());
        a.count = rd.get<uint64_t>();
        if (a.words < 1) fail("bad array");
        rd.words(a.count * uint64_t(a.words), a.store);
        a.data = a.store.data();
    }
    std::vector<PhaseSpec> phases(rd.get<uint32_t>());
    for (PhaseSpec& ph : phases) {
        ph.timeout = rd.get<uint64_t>();
        ph.ops.resize(rd.get<uint32_t>());
        for (OpSpec& op : ph.ops) {
            op.kind = rd.get<uint32_t>();
            op.port = rd.get<uint32_t>();
            op.port2 = rd.get<uint32_t>();
            op.gap = rd.get<double>();
            op.stall = rd.get<double>();
            op.array = rd.get<uint32_t>();
            op.count = rd.get<int64_t>();
            bool bad = op.kind > MEM || op.port >= ports.size() ||
                       (op.kind == MEM && op.port2 >= ports.size()) ||
                       (op.kind != GET && op.array >= arrays.size()) ||
                       (op.kind == GET && op.array != 0xFFFFFFFFu &&
                        op.array >= arrays.size());
            if (bad) fail("bad operation in the job");
        }
    }

#ifdef NF_TRACE
    std::unique_ptr<VerilatedVcdC> vcd;
    if (vcd_path) {
        vcd.reset(new VerilatedVcdC);
        top->trace(vcd.get(), 99);
        vcd->open(vcd_path);
        if (!vcd->isOpen()) fail(std::string("cannot write ") + vcd_path);
    }
#endif
    uint64_t now_ps = 0;
    auto dump = [&](uint64_t t) {
#ifdef NF_TRACE
        if (vcd) vcd->dump(t);
#else
        (void)t;
#endif
    };

    // -- initial values: inputs of the script's ports idle --
    std::vector<bool> is_input(ports.size(), false), used(ports.size(), false);
    for (PhaseSpec& ph : phases)
        for (OpSpec& op : ph.ops) {
            used[op.port] = true;
            if (op.kind != GET) is_input[op.port] = true;
            if (op.kind == MEM) used[op.port2] = true;
        }
    for (size_t k = 0; k < ports.size(); ++k) {
        if (!used[k]) continue;
        if (is_input[k]) ports[k].valid->put_now(std::vector<uint64_t>(1, 0).data());
        else ports[k].ready->put_now(std::vector<uint64_t>(1, 0).data());
    }
#ifdef NF_CLK
    top->NF_CLK = 0;
#endif
    top->eval();
#if defined(NF_RST) && defined(NF_CLK)
    // A reset pulse before the script, as a board's reset synchroniser gives after
    // configuration: at gate level Yosys has re-encoded the state machines and dropped their
    // initial values, so only the reset puts them in their initial state (the RTL is in
    // it already, and the inputs are idle). Set after a first evaluation, which may apply
    // the cell models' input defaults to the top's nets.
    top->NF_RST = 1;
    for (int edge = 0; edge < 2; ++edge) {
        top->NF_CLK = 1;
        top->eval();
        top->NF_CLK = 0;
        top->eval();
    }
#endif
#ifdef NF_RST
    top->NF_RST = 0;
    top->eval();
#endif
    dump(0);

    // -- play --
    int64_t cycle = 0;
    int64_t timed_out = -1;
    std::vector<PhaseOut> done_phases;
    done_phases.reserve(phases.size());
    const uint64_t half = period_ps / 2 ? period_ps / 2 : 1;
    size_t k = 0;
    PhaseOut cur;
    size_t pending = 0;

    auto begin_phase = [&](size_t kk) {
        cur = PhaseOut();
        cur.start = cycle;
        const PhaseSpec& ph = phases[kk];
        cur.ops.resize(ph.ops.size());
        pending = 0;
        for (size_t j = 0; j < ph.ops.size(); ++j) {
            const OpSpec& s = ph.ops[j];
            Op& op = cur.ops[j];
            op.kind = int(s.kind);
            op.p = &ports[s.port];
            op.q = s.kind == MEM ? &ports[s.port2] : nullptr;
            op.arr = s.kind == GET ? nullptr : &arrays[s.array];
            op.gap = s.gap;
            op.stall = s.stall;
            op.count = s.count;
            if (s.kind == GET && s.array != 0xFFFFFFFFu) {
                const Array& m = arrays[s.array];
                if (m.count) op.mask.assign(m.data, m.data + m.words);
            }
            op.rng = Rng(mix(mix(mix(seed, kk), j), s.kind));
            op.start();
            if (!op.done) ++pending;
        }
    };
    auto end_phase = [&](int64_t end) {
        cur.end = end;
        done_phases.push_back(std::move(cur));
        if (progress_fd >= 0) {
            char line[32];
            int n = std::snprintf(line, sizeof line, "%zu\n", k);
            if (write(progress_fd, line, size_t(n)) != n) progress_fd = -1;   // reader gone
        }
    };

    // phases without work end where they start
    auto advance = [&]() {
        while (k < phases.size()) {
            begin_phase(k);
            if (pending) return;
            end_phase(cycle);
            ++k;
        }
    };
    advance();
    while (k < phases.size()) {
        // the edge of this cycle: its transfers were decided (and the inputs of the next
        // cycle staged) at the end of the previous iteration
#ifdef NF_CLK
        top->NF_CLK = 1;
        top->eval();
        now_ps += half;
        dump(now_ps);
        apply_staged();
        top->NF_CLK = 0;
        top->eval();
        now_ps += period_ps - half;
        dump(now_ps);
#else
        apply_staged();
        top->eval();
        now_ps += period_ps;
        dump(now_ps);
#endif
        ++cycle;
        // the next edge: every busy op reads what it samples and stages its writes
        for (Op& op : cur.ops) {
            if (op.done) continue;
            op.edge();
            if (op.done) --pending;
        }
        if (!pending) {
            end_phase(cycle);
            ++k;
            advance();
        } else if (uint64_t(cycle - cur.start) > phases[k].timeout) {
            timed_out = int64_t(k);
            end_phase(-1);
            break;
        }
    }
    top->final();
#ifdef NF_TRACE
    if (vcd) vcd->close();
#endif

    // -- result --
    std::string tmp_path = std::string(result_path) + ".part";
    std::FILE* f = std::fopen(tmp_path.c_str(), "wb");
    if (!f) fail(std::string("cannot write ") + tmp_path);
    std::fwrite("NFRES01", 8, 1, f);
    put_i64(f, timed_out);
    put_i64(f, cycle);
    put_u32(f, uint32_t(done_phases.size()));
    for (const PhaseOut& ph : done_phases) {
        put_i64(f, ph.start);
        put_i64(f, ph.end);
        put_u32(f, uint32_t(ph.ops.size()));
        for (const Op& op : ph.ops) {
            if (op.kind == PUT) {
                put_i64(f, -1);
                put_u32(f, 1);
                continue;
            }
            put_i64(f, int64_t(op.nout));
            put_u32(f, uint32_t(op.out_words));
            if (!op.out.empty()) std::fwrite(op.out.data(), 8, op.out.size(), f);
        }
    }
    if (std::fclose(f) != 0) fail(std::string("cannot write ") + tmp_path);
    if (std::rename(tmp_path.c_str(), result_path) != 0)
        fail(std::string("cannot write ") + result_path);
    return 0;
}
