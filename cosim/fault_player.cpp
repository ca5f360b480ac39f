// neurofab fault player: the compiled script player (player.cpp, included unchanged) with
// single-event upsets — bit flips written into the design's flip-flops and memories at
// chosen clock edges. Built by neurofab.cosim.faults.fault_build with `--public-flat-rw`,
// so that every signal and memory of the design is reachable by name through Verilator's
// scope table (VerilatedScope::varFind) and logic reading a flipped signal is re-evaluated.
//
// Usage: player JOB RESULT [--vcd PATH] [--progress-fd FD]    as player.cpp; and, read
//        from the work directory (the player's cwd) if present:
//   nf_faults.txt   the upsets to inject (below);
//   nf_injected.txt written: one line per upset injected.
//        player --list-vars PATH
//   writes every variable of every scope, one per line: "scope var bits depth" separated
//   by tabs (depth 0 for a plain signal, else the words of an unpacked array), and exits.
//
// nf_faults.txt (text, one directive per line):
//   scope SCOPE                 the design's top scope ("TOP.neurofab_core")
//   trigger VAR [VAR ...]       the trigger: a rising clock edge at which every VAR (a
//                               signal of the top scope, at most 64 bits) is non-zero,
//                               where at the previous edge not all were. The edges at
//                               which the trigger fires are numbered 0, 1, 2, ... (the
//                               neuron core: `i_events__valid o_idle`, the first edge of
//                               every step, so the number is the step).
//   flip EVENT OFFSET VAR INDEX BIT
//                               after the clock edge OFFSET edges after trigger edge
//                               EVENT (0: that edge itself), invert bit BIT of VAR (a
//                               path below the top scope: "acc_mem", "kernel.s2_q_i");
//                               INDEX is the word of a memory (unpacked array), -1 for a
//                               plain signal.
// An upset is applied right after the rising-edge evaluation, before the player applies
// its inputs for the next cycle and evaluates again: the flipped value is what the flip-flop
// or memory word holds during that cycle, as if the particle had struck just after the edge.
// nf_injected.txt: "EVENT OFFSET CYCLE VAR INDEX BIT OLD" per upset (OLD: the low 64 bits of
// the word before the flip, hexadecimal), in the order injected. Upsets whose edge the run
// never reaches are not listed.

#include "Vtop.h"
#include "verilated.h"
#include "verilated_syms.h"
#include "nf_ports.h"

#include <unistd.h>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <queue>
#include <sstream>
#include <string>
#include <vector>

namespace nf_faults {

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "fault player: %s\n", msg.c_str());
    std::exit(2);
}

struct Target {
    std::string name;
    VerilatedVar* var = nullptr;
    int bits = 0;
    int depth = 0;          // words of an unpacked array, 0 for a plain signal
};

struct Upset {
    int64_t event = 0, offset = 0, index = -1, bit = 0;
    size_t target = 0;
    int64_t due = -1;       // absolute edge, once the trigger edge is known
};

int var_bits(const VerilatedVar* v) { return int(v->entBits()); }
int var_depth(const VerilatedVar* v) { return v->udims() ? v->elements(1) : 0; }

VerilatedContext* g_ctx = nullptr;

const VerilatedScope* find_scope(const std::string& name) {
    const VerilatedScope* s = g_ctx->scopeFind(name.c_str());
    if (!s) die("no scope '" + name + "' (built without --public-flat-rw?)");
    return s;
}

Target lookup(const std::string& top, const std::string& path) {
    std::string scope = top, leaf = path;
    size_t dot = path.rfind('.');
    if (dot != std::string::npos) {
        scope += "." + path.substr(0, dot);
        leaf = path.substr(dot + 1);
    }
    VerilatedVar* v = find_scope(scope)->varFind(leaf.c_str());
    if (!v) die("no variable '" + leaf + "' in scope '" + scope + "'");
    Target t;
    t.name = path;
    t.var = v;
    t.bits = var_bits(v);
    t.depth = var_depth(v);
    if (v->udims() > 1) die("'" + path + "': arrays of more than one dimension are not supported");
    return t;
}

uint8_t* word_ptr(const Target& t, int64_t index) {
    if (t.depth == 0) {
        if (index != -1) die("'" + t.name + "' is a plain signal: index must be -1");
        return static_cast<uint8_t*>(t.var->datap());
    }
    if (index < 0 || index >= t.depth)
        die("'" + t.name + "' index " + std::to_string(index) + " is outside [0, " +
            std::to_string(t.depth - 1) + "]");
    int at = t.var->low(1) + int(index);
    void* p = t.var->datapAdjustIndex(t.var->datap(), 1, at);
    if (!p) die("'" + t.name + "': cannot address word " + std::to_string(index));
    return static_cast<uint8_t*>(p);
}

uint64_t low_word(const uint8_t* p, int bits) {
    uint64_t v = 0;
    int bytes = std::min(8, (bits + 7) / 8);
    std::memcpy(&v, p, size_t(bytes));      // (little-endian host: Verilator's layout)
    return bits < 64 ? v & ((uint64_t(1) << bits) - 1) : v;
}

class Injector {
public:
    void load(const char* path) {
        std::ifstream in(path);
        if (!in) return;                   // no faults file: a plain player
        active_ = true;
        std::string line;
        int lineno = 0;
        std::string scope;
        std::vector<std::string> trig;
        while (std::getline(in, line)) {
            ++lineno;
            std::istringstream ls(line);
            std::string kw;
            if (!(ls >> kw) || kw[0] == '#') continue;
            if (kw == "scope") {
                ls >> scope;
            } else if (kw == "trigger") {
                std::string v;
                while (ls >> v) trig.push_back(v);
            } else if (kw == "flip") {
                Upset u;
                std::string var;
                if (!(ls >> u.event >> u.offset >> var >> u.index >> u.bit) || u.event < 0 ||
                    u.offset < 0)
                    die(std::string(path) + ":" + std::to_string(lineno) + ": bad flip line");
                names_.push_back(var);
                u.target = names_.size() - 1;
                upsets_.push_back(u);
            } else {
                die(std::string(path) + ":" + std::to_string(lineno) + ": unknown directive '" +
                    kw + "'");
            }
        }
        if (scope.empty()) die(std::string(path) + ": no scope line");
        if (trig.empty()) die(std::string(path) + ": no trigger line");
        scope_ = scope;
        for (const std::string& v : trig) {
            Target t = lookup(scope_, v);
            if (t.depth || t.bits > 64) die("trigger '" + v + "' must be a signal of <= 64 bits");
            trigger_.push_back(t);
        }
        // resolve every target once (names repeat)
        std::vector<std::string> uniq;
        for (Upset& u : upsets_) {
            const std::string& n = names_[u.target];
            auto it = std::find(uniq.begin(), uniq.end(), n);
            size_t k = size_t(it - uniq.begin());
            if (it == uniq.end()) {
                uniq.push_back(n);
                targets_.push_back(lookup(scope_, n));
            }
            u.target = k;
            const Target& t = targets_[k];
            if (u.bit < 0 || u.bit >= t.bits)
                die("'" + n + "' bit " + std::to_string(u.bit) + " is outside [0, " +
                    std::to_string(t.bits - 1) + "]");
            word_ptr(t, u.index);          // checks the index
        }
        std::stable_sort(upsets_.begin(), upsets_.end(),
                         [](const Upset& a, const Upset& b) { return a.event < b.event; });
        log_ = std::fopen("nf_injected.txt", "w");
        if (!log_) die("cannot write nf_injected.txt");
    }

    // Called at a rising edge, before the model evaluates it: the values the edge samples.
    void before_edge() {
        if (!active_) return;
        bool all = true;
        for (const Target& t : trigger_)
            if (!low_word(static_cast<const uint8_t*>(t.var->datap()), t.bits)) all = false;
        if (all && !last_) {
            // (upsets are sorted by event)
            for (; next_ < upsets_.size() && upsets_[next_].event <= events_; ++next_) {
                Upset& u = upsets_[next_];
                if (u.event < events_) continue;
                u.due = edge_ + u.offset;
                due_.push({u.due, next_});
            }
            ++events_;
        }
        last_ = all;
    }

    // Called right after the rising-edge evaluation.
    void after_edge() {
        if (!active_) return;
        while (!due_.empty() && due_.top().first == edge_) {
            Upset& u = upsets_[due_.top().second];
            due_.pop();
            const Target& t = targets_[u.target];
            uint8_t* p = word_ptr(t, u.index);
            uint64_t old = low_word(p, t.bits);
            p[u.bit / 8] ^= uint8_t(1u << (u.bit % 8));
            std::fprintf(log_, "%lld %lld %lld %s %lld %lld %llx\n", (long long)u.event,
                         (long long)u.offset, (long long)edge_, t.name.c_str(),
                         (long long)u.index, (long long)u.bit, (unsigned long long)old);
        }
        ++edge_;
    }

    void close() {
        if (log_) std::fclose(log_);
        log_ = nullptr;
    }

private:
    bool active_ = false, last_ = false;
    std::string scope_;
    std::vector<std::string> names_;
    std::vector<Target> trigger_, targets_;
    std::vector<Upset> upsets_;
    size_t next_ = 0;                      // first upset whose trigger edge is to come
    // upsets whose edge is known, earliest first (ties: in file order)
    std::priority_queue<std::pair<int64_t, size_t>, std::vector<std::pair<int64_t, size_t>>,
                        std::greater<std::pair<int64_t, size_t>>> due_;
    int64_t edge_ = 0, events_ = 0;
    std::FILE* log_ = nullptr;
};

Injector g_injector;

void list_vars(VerilatedContext* ctx, const char* path) {
    std::FILE* f = std::fopen(path, "w");
    if (!f) die(std::string("cannot write ") + path);
    const VerilatedScopeNameMap* scopes = ctx->scopeNameMap();
    for (const auto& s : *scopes) {
        const VerilatedVarNameMap* vars = s.second->varsp();
        if (!vars) continue;
        for (const auto& v : *vars)
            std::fprintf(f, "%s\t%s\t%d\t%d\n", s.first, v.first, var_bits(&v.second),
                         var_depth(&v.second));
    }
    std::fclose(f);
}

}  // namespace nf_faults

// The model with the injector's hooks around every rising-edge evaluation.
class NfFaultTop : public Vtop {
public:
    explicit NfFaultTop(VerilatedContext* ctx) : Vtop(ctx) {
        nf_faults::g_ctx = ctx;
        nf_faults::g_injector.load("nf_faults.txt");
    }
    ~NfFaultTop() { nf_faults::g_injector.close(); }
    void eval() {
#ifdef NF_CLK
        bool rising = this->NF_CLK && !last_clk_;
        last_clk_ = this->NF_CLK;
        if (rising) nf_faults::g_injector.before_edge();
        Vtop::eval();
        if (rising) nf_faults::g_injector.after_edge();
#else
        Vtop::eval();
#endif
    }

private:
    bool last_clk_ = false;
};

#define Vtop NfFaultTop
#define main nf_player_main
#include "player.cpp"
#undef main
#undef Vtop

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "--list-vars") {
        auto ctx = std::make_unique<VerilatedContext>();
        auto top = std::make_unique<Vtop>(ctx.get());
        nf_faults::list_vars(ctx.get(), argv[2]);
        return 0;
    }
    return nf_player_main(argc, argv);
}
