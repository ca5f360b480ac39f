// neurofab simulated board: a Verilated top level whose UART pins are bridged to TCP.
//
// The design is clocked by this harness. Bytes a TCP client sends are serialised onto the
// design's `rx` input as 8N1 UART frames (start bit low, 8 data bits LSB first, stop bit
// high), `divisor` clocks per bit; the design's `tx` output is deserialised with mid-bit
// sampling at the same divisor and the bytes are sent to the client. UART bit timing is
// simulated, never bypassed, so the host driver talks to the real top level exactly as it
// would over a serial cable.
//
// One client at a time, forever, until SIGTERM/SIGINT (exit 0). The design keeps its state
// across connections, like a powered board. While nobody is connected, tx bytes are
// discarded (nobody is listening on the cable); once no client is connected, nothing is in
// flight on either line and the tx line has been quiet for --idle-cycles clocks, the clock
// stops until the next client connects (time stands still, which no host can observe).
//
// Clients (docs/protocol.md, "Simulated board"):
// * A client that connects while another one is served gets the busy message kBusy and
//   is closed at once; nothing it sent reaches the design.
// * When a client disconnects, the bytes it sent that have not gone down the line yet are
//   dropped; a client that is already closed when it is accepted (it waited in the listen
//   backlog and gave up) is dropped with everything it sent. A command is only ever run
//   for a client that is still connected when its bytes go down the line.
// * A client that sends nothing for --client-timeout seconds is disconnected (default 60;
//   0: never), so an idle host cannot hold the board forever.
//
// Compile-time configuration (all optional):
//   NF_TOP         Verilated model class            (default Vtop)
//   NF_TOP_HEADER  its header, as a string literal  (default "Vtop.h")
//   NF_CLK NF_RST NF_RX NF_TX   port names          (default clk rst rx tx)
//   NF_NO_RST      the design has no reset port
//   NF_TRACE       built with Verilator --trace: enables --vcd PATH
//
// Usage: simboard [--divisor D] [--port P] [--max-cycles N] [--stats]
//                 [--idle-cycles N] [--reset-cycles N] [--client-timeout S] [--vcd PATH]
//   --divisor D       clocks per UART bit (default 16)
//   --port P          TCP port on 127.0.0.1 (default 0: the OS picks one)
//   --max-cycles N    stop after N clocks, never waiting for a client (tests, benchmarks)
//   --stats           print cycles, cycles/s (wall and CPU), byte counts on stderr at exit
//   --idle-cycles N   quiet clocks before the clock stops with nobody connected (4 Mi)
//   --reset-cycles N  clocks with rst high at start (default 8)
//   --client-timeout S  seconds without a byte from the client before it is disconnected
//                     (default 60; 0: never)
//   --vcd PATH        waveform (NF_TRACE builds only); one time unit = half a clock
// Prints exactly one line `tcp://127.0.0.1:PORT` on stdout once listening (after reset).
// Exit status 0 after SIGTERM/SIGINT or --max-cycles, 2 on a usage or socket error.

#ifndef NF_TOP
#define NF_TOP Vtop
#endif
#ifndef NF_TOP_HEADER
#define NF_TOP_HEADER "Vtop.h"
#endif
#ifndef NF_CLK
#define NF_CLK clk
#endif
#ifndef NF_RST
#define NF_RST rst
#endif
#ifndef NF_RX
#define NF_RX rx
#endif
#ifndef NF_TX
#define NF_TX tx
#endif

#include NF_TOP_HEADER
#include "verilated.h"
#ifdef NF_TRACE
#include "verilated_vcd_c.h"
#endif

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// Cycles between socket services (recv/send/accept) while clocking.
constexpr uint64_t kServiceInterval = 4096;
// Upper bound on bytes buffered towards the design (TCP back-pressure beyond it).
constexpr size_t kRxBufferMax = 1 << 16;
// Upper bound on bytes buffered towards a client that does not read; beyond it bytes are
// dropped and counted (a real UART has no back-pressure either).
constexpr size_t kTxBufferMax = 64u << 20;
// Sent to a client that connects while another one is served, before it is closed
// (neurofab.spec.SIMBOARD_BUSY; a zero byte first, so no frame decoder takes it for a frame).
constexpr char kBusy[] = "\0neurofab simulated board: busy: another client is connected\n";

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "simboard: %s: %s\n", what, std::strerror(errno));
    std::exit(2);
}

[[noreturn]] void usage(const char* msg, int code = 2) {
    std::fprintf(code ? stderr : stdout,
                 "simboard: %s\n"
                 "usage: simboard [--divisor D] [--port P] [--max-cycles N] [--stats]\n"
                 "                [--idle-cycles N] [--reset-cycles N] [--client-timeout S]\n"
                 "                [--vcd PATH]\n",
                 msg);
    std::exit(code);
}

uint64_t parse_u64(const char* opt, const char* text) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text, &end, 0);
    if (errno || end == text || *end || text[0] == '-') {
        std::string m = std::string("bad value for ") + opt + ": '" + text + "'";
        usage(m.c_str());
    }
    return v;
}

void set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) die("fcntl");
}

// 8N1 serialiser: bytes → rx line.
struct UartSerialiser {
    uint32_t divisor;
    uint32_t count = 0;   // clocks left in the current bit
    int bit = -1;         // -1 idle, 0 start, 1..8 data, 9 stop
    uint16_t frame = 0;   // bit 0 = start (0), bits 1..8 data, bit 9 stop (1)
    uint8_t line = 1;

    bool busy() const { return bit >= 0; }
    void load(uint8_t byte) {
        frame = uint16_t((1u << 9) | (uint32_t(byte) << 1));
        bit = 0;
        count = divisor;
        line = 0;
    }
    // Advance one clock; returns true when the frame (stop bit included) has ended.
    bool tick() {
        if (bit < 0) return false;
        if (--count) return false;
        if (++bit == 10) {
            bit = -1;
            line = 1;
            return true;
        }
        count = divisor;
        line = (frame >> bit) & 1;
        return false;
    }
};

// 8N1 deserialiser with mid-bit sampling: tx line → bytes.
struct UartDeserialiser {
    uint32_t divisor;
    uint32_t count = 0;
    int bit = -2;          // -2 wait for line high, -1 idle (high), 0 start, 1..8 data, 9 stop
    uint8_t shift = 0;
    uint64_t framing_errors = 0;
    uint64_t false_starts = 0;

    bool busy() const { return bit >= 0; }
    // Feed the line level after a clock edge; returns 0..255 for a byte, -1 otherwise.
    int sample(uint8_t line) {
        switch (bit) {
        case -2:
            if (line) bit = -1;
            return -1;
        case -1:
            if (!line) {               // falling edge: start bit begins
                bit = 0;
                count = divisor / 2;   // first sample in the middle of the start bit
                if (!count) count = 1;
            }
            return -1;
        default:
            if (--count) return -1;
            count = divisor;
            if (bit == 0) {
                if (line) {            // glitch, not a start bit
                    ++false_starts;
                    bit = -1;
                } else {
                    bit = 1;
                }
                return -1;
            }
            if (bit <= 8) {
                shift = uint8_t((shift >> 1) | (line ? 0x80 : 0));
                ++bit;
                return -1;
            }
            // stop bit
            if (!line) {
                ++framing_errors;
                bit = -2;              // resynchronise on the next high level
                return -1;
            }
            bit = -1;
            return shift;
        }
    }
};

struct Stats {
    uint64_t cycles = 0;
    uint64_t bytes_in = 0;        // client → design (serialised onto rx)
    uint64_t bytes_out = 0;       // design → client (deserialised from tx)
    uint64_t bytes_discarded = 0; // tx bytes produced while no client was connected
    uint64_t bytes_dropped = 0;   // tx bytes dropped because the client did not read
    uint64_t connections = 0;
    uint64_t refused = 0;         // clients told busy and closed
    uint64_t abandoned = 0;       // clients accepted already closed, dropped unserved
    uint64_t bytes_abandoned = 0; // bytes of a disconnected client never sent down the line
    uint64_t timeouts = 0;        // clients disconnected for --client-timeout
};

}  // namespace

int main(int argc, char** argv) {
    uint64_t divisor = 16, port = 0, max_cycles = 0, idle_cycles = 1u << 22, reset_cycles = 8;
    uint64_t client_timeout = 60;
    bool stats_on = false;
    const char* vcd_path = nullptr;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](void) -> const char* {
            if (i + 1 >= argc) usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--divisor") divisor = parse_u64("--divisor", value());
        else if (a == "--port") port = parse_u64("--port", value());
        else if (a == "--max-cycles") max_cycles = parse_u64("--max-cycles", value());
        else if (a == "--idle-cycles") idle_cycles = parse_u64("--idle-cycles", value());
        else if (a == "--reset-cycles") reset_cycles = parse_u64("--reset-cycles", value());
        else if (a == "--client-timeout")
            client_timeout = parse_u64("--client-timeout", value());
        else if (a == "--stats") stats_on = true;
        else if (a == "--vcd") vcd_path = value();
        else if (a == "-h" || a == "--help") usage("a Verilated board top level with its UART bridged to TCP", 0);
        else usage(("unknown argument " + a).c_str());
    }
    if (divisor < 2 || divisor > 0xffffffu) usage("--divisor must be in 2..16777215");
    if (port > 65535) usage("--port must be in 0..65535");
#ifndef NF_TRACE
    if (vcd_path) usage("--vcd needs a simulator built with tracing");
#endif

    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;  // no SA_RESTART: a blocking poll() returns EINTR
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    // --- listening socket -----------------------------------------------------------
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr;
    std::memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(uint16_t(port));
    if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) die("bind");
    if (listen(lfd, 4) < 0) die("listen");
    socklen_t alen = sizeof addr;
    if (getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &alen) < 0) die("getsockname");
    set_nonblocking(lfd);

    // --- model ----------------------------------------------------------------------
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(1, argv);  // our options are ours, not Verilator's
#ifdef NF_TRACE
    std::unique_ptr<VerilatedVcdC> vcd;
    if (vcd_path) ctx->traceEverOn(true);
#endif
    auto top = std::make_unique<NF_TOP>(ctx.get());
#ifdef NF_TRACE
    if (vcd_path) {
        vcd.reset(new VerilatedVcdC);
        top->trace(vcd.get(), 99);
        vcd->open(vcd_path);
    }
#endif
    uint64_t sim_time = 0;  // half clock periods
    auto dump = [&]() {
#ifdef NF_TRACE
        if (vcd) vcd->dump(sim_time);
#endif
        ++sim_time;
    };

    UartSerialiser ser{uint32_t(divisor)};
    UartDeserialiser des{uint32_t(divisor)};
    Stats st;

    // The inputs are set after a first eval and again every reset cycle: that first eval
    // runs the design's static initialisers, and in a gate-level netlist those can write
    // the top-level inputs (the iCE40 cell models give their input pins default values,
    // which Verilator applies to the nets they connect to: rst and rx would read 0).
    top->NF_CLK = 0;
    top->eval();
    auto hold_reset = [&]() {
        top->NF_RX = 1;
#ifndef NF_NO_RST
        top->NF_RST = 1;
#endif
    };
    hold_reset();
    top->eval();
    dump();
    for (uint64_t i = 0; i < reset_cycles; ++i) {
        hold_reset();
        top->NF_CLK = 1; top->eval(); dump();
        top->NF_CLK = 0; top->eval(); dump();
        ++st.cycles;
    }
#ifndef NF_NO_RST
    top->NF_RST = 0;
    top->eval();
#endif

    std::printf("tcp://127.0.0.1:%u\n", unsigned(ntohs(addr.sin_port)));
    std::fflush(stdout);

    int cfd = -1;
    std::vector<uint8_t> rxbuf;  // client → design
    size_t rxpos = 0;
    std::vector<uint8_t> txbuf;  // design → client
    size_t txpos = 0;
    uint64_t quiet = 0;          // cycles since anything happened on either line
    const bool bounded = max_cycles != 0;
    auto cpu_now = []() {
        timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    };
    const double cpu0 = cpu_now();
    auto t0 = std::chrono::steady_clock::now();
    double waited = 0.0;         // seconds spent blocked waiting for a client

    auto last_heard = std::chrono::steady_clock::now();   // the client's last byte
    auto close_client = [&]() {
        close(cfd);
        cfd = -1;
        txbuf.clear();
        txpos = 0;
        st.bytes_abandoned += rxbuf.size() - rxpos;
        rxbuf.clear();
        rxpos = 0;
        quiet = 0;
    };

    // Everything a just-accepted socket holds; false if it is already at EOF (or broken).
    auto take_pending = [&](int fd, std::vector<uint8_t>& into) {
        uint8_t chunk[16384];
        for (;;) {
            ssize_t n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
            if (n > 0) { into.insert(into.end(), chunk, chunk + n); continue; }
            if (n < 0 && errno == EINTR) continue;
            return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        }
    };

    // A second client: the busy message, then closed (its input drained first, so the
    // close is a clean FIN and the message arrives).
    auto refuse = [&](int fd) {
        ssize_t ignored = send(fd, kBusy, sizeof kBusy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)ignored;
        shutdown(fd, SHUT_WR);
        std::vector<uint8_t> sink;
        take_pending(fd, sink);
        close(fd);
        ++st.refused;
    };

    // Flush towards the client, then read from it. EOF (a half-close included) or an error
    // ends the connection: bytes not yet sent down the line are dropped (a command runs
    // only for a client still there), output towards a closed socket is discarded.
    auto serve_client = [&]() {
        while (txpos < txbuf.size()) {
            ssize_t n = send(cfd, txbuf.data() + txpos, txbuf.size() - txpos,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) { txpos += size_t(n); continue; }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            close_client();   // EPIPE, ECONNRESET, ...: the client went away
            return;
        }
        if (txpos == txbuf.size()) { txbuf.clear(); txpos = 0; }
        // Read only while the buffer towards the design is small: TCP back-pressure.
        if (rxpos == rxbuf.size()) {
            rxbuf.clear();
            rxpos = 0;
        } else if (rxpos > kRxBufferMax) {
            rxbuf.erase(rxbuf.begin(), rxbuf.begin() + long(rxpos));
            rxpos = 0;
        }
        uint8_t chunk[16384];
        while (rxbuf.size() - rxpos < kRxBufferMax) {
            ssize_t n = recv(cfd, chunk, sizeof chunk, MSG_DONTWAIT);
            if (n > 0) {
                rxbuf.insert(rxbuf.end(), chunk, chunk + n);
                last_heard = std::chrono::steady_clock::now();
                if (size_t(n) < sizeof chunk) break;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            close_client();
            break;
        }
    };

    // Serve the client; accept the next one. One at a time: a client that connects while
    // another is served is told busy and closed; one that gave up while it waited in the
    // listen backlog is dropped unserved; an idle client is disconnected.
    auto service = [&]() {
        if (cfd >= 0) serve_client();
        if (cfd >= 0 && client_timeout &&
            std::chrono::steady_clock::now() - last_heard >
                std::chrono::seconds(client_timeout)) {
            std::fprintf(stderr, "simboard: client sent nothing for %llu s: disconnected\n",
                         (unsigned long long)client_timeout);
            ++st.timeouts;
            close_client();
        }
        for (;;) {
            int fd = accept(lfd, nullptr, nullptr);
            if (fd < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                    errno != ECONNABORTED)
                    die("accept");
                return;
            }
            set_nonblocking(fd);
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (cfd >= 0) {
                refuse(fd);
                continue;
            }
            std::vector<uint8_t> pending;
            if (!take_pending(fd, pending)) {
                close(fd);
                ++st.abandoned;
                st.bytes_abandoned += pending.size();
                continue;
            }
            cfd = fd;
            ++st.connections;
            quiet = 0;
            last_heard = std::chrono::steady_clock::now();
            rxbuf.insert(rxbuf.end(), pending.begin(), pending.end());
            serve_client();
        }
    };

    while (!g_stop) {
        service();
        // Nobody connected, both lines quiet for a while: wait for a client.
        if (cfd < 0 && !bounded && !ser.busy() && rxpos == rxbuf.size() && !des.busy() &&
            quiet >= idle_cycles) {
            pollfd p{lfd, POLLIN, 0};
            auto w0 = std::chrono::steady_clock::now();
            // A timeout, so a signal landing just before poll() is still seen promptly.
            int r = poll(&p, 1, 250);
            if (r < 0 && errno != EINTR) die("poll");
            waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
            continue;
        }
        // Clock a batch of cycles; the UART models run per cycle, sockets per batch.
        uint64_t batch = kServiceInterval;
        if (bounded) {
            if (st.cycles >= max_cycles) break;
            if (max_cycles - st.cycles < batch) batch = max_cycles - st.cycles;
        }
        for (uint64_t i = 0; i < batch; ++i) {
            if (!ser.busy() && rxpos < rxbuf.size()) {
                ser.load(rxbuf[rxpos++]);
                ++st.bytes_in;
            }
            top->NF_RX = ser.line;
            top->NF_CLK = 1; top->eval(); dump();
            top->NF_CLK = 0; top->eval(); dump();
            ser.tick();
            int byte = des.sample(uint8_t(top->NF_TX & 1));
            if (byte >= 0) {
                if (cfd < 0) {
                    ++st.bytes_discarded;
                } else if (txbuf.size() - txpos >= kTxBufferMax) {
                    ++st.bytes_dropped;
                } else {
                    txbuf.push_back(uint8_t(byte));
                    ++st.bytes_out;
                }
            }
            if (des.busy() || ser.busy()) quiet = 0;
            else ++quiet;
        }
        st.cycles += batch;
    }

    // Final flush of anything the design sent (best effort, non-blocking).
    if (cfd >= 0) {
        while (txpos < txbuf.size()) {
            ssize_t n = send(cfd, txbuf.data() + txpos, txbuf.size() - txpos,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n <= 0) break;
            txpos += size_t(n);
        }
        close(cfd);
    }
    close(lfd);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double busy = secs - waited;
    double cpu = cpu_now() - cpu0;
    top->final();
#ifdef NF_TRACE
    if (vcd) vcd->close();
#endif
    if (des.framing_errors)
        std::fprintf(stderr, "simboard: %llu framing error(s) on tx (low stop bit)\n",
                     (unsigned long long)des.framing_errors);
    if (st.bytes_dropped)
        std::fprintf(stderr, "simboard: %llu tx byte(s) dropped (client not reading)\n",
                     (unsigned long long)st.bytes_dropped);
    if (stats_on) {
        std::fprintf(stderr,
                     "simboard: stats cycles=%llu seconds=%.6f waited=%.6f cpu_seconds=%.6f "
                     "cycles_per_second=%.0f cycles_per_cpu_second=%.0f "
                     "bytes_in=%llu bytes_out=%llu bytes_discarded=%llu bytes_dropped=%llu "
                     "framing_errors=%llu false_starts=%llu connections=%llu refused=%llu "
                     "abandoned=%llu bytes_abandoned=%llu timeouts=%llu\n",
                     (unsigned long long)st.cycles, secs, waited, cpu,
                     busy > 0 ? double(st.cycles) / busy : 0.0,
                     cpu > 0 ? double(st.cycles) / cpu : 0.0,
                     (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out,
                     (unsigned long long)st.bytes_discarded, (unsigned long long)st.bytes_dropped,
                     (unsigned long long)des.framing_errors, (unsigned long long)des.false_starts,
                     (unsigned long long)st.connections, (unsigned long long)st.refused,
                     (unsigned long long)st.abandoned, (unsigned long long)st.bytes_abandoned,
                     (unsigned long long)st.timeouts);
    }
    std::fflush(stderr);
    return 0;
}
