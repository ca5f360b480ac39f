"""Gate-level co-simulation: the synthesised netlist of the neuron core against golden.

What the board flow turns into a bitstream is not the Verilog of ``amaranth.back.verilog``
but the netlist Yosys maps onto the FPGA's cells. This module simulates that netlist:

1. :func:`synth_netlist` runs YoWASP Yosys ``synth_ice40`` (with the board flow's
   ``-spram -dsp``) or ``synth_ecp5`` on the component's RTLIL and returns the mapped netlist
   (``write_verilog -noattr``). On iCE40 the synapse memory is put in SPRAM as on the
   iCEBreaker build (its all-zero init dropped, ``ram_style = "huge"``), so the SPRAM model
   is exercised whatever the geometry. Netlists are cached under
   ``<cache>/gatelevel/`` by a hash of the RTLIL, the family, the script and the Yosys
   version.
2. :func:`cell_models` / :func:`cell_library`: the vendor simulation models that Yosys ships
   (``ice40/cells_sim.v``; ``ecp5/cells_sim.v`` with its ``.vh`` includes). Yosys' ECP5
   ``DP16KD`` (block RAM) and ``MULT18X18D`` (DSP) are black boxes — no simulation model
   ships with the PyPI tools — so this module replaces their bodies with behavioural models
   (:data:`DP16KD_BODY`, :data:`MULT18X18D_BODY`) behind the shipped port and parameter
   lists.
3. :func:`gate_verilog` puts models and netlist into one Verilog text;
   :func:`gate_build` compiles it with Verilator (``cosim/verilator.py``,
   cached); only the top-level ports are made public (``--no-public-flat-rw`` plus a
   ``verilator_config`` section), so Verilator optimises the netlist like any design.
4. The cosim engine (``cosim/engine.py``) plays any case on it: back ends ``gate-ice40``
   and ``gate-ecp5`` — the same script as on Verilator, compared with the same golden.

Every neuron kernel (``neurofab.kernels``) runs at gate level: the cores of all four map
their multipliers onto DSP cells that these models cover. On iCE40 ``SB_MAC16`` comes as
Yosys emits it (signed 16 x 16, for ALIF unsigned too; for Izhikevich with the 8 x 8
product, 16 x 16 pipeline and ``B`` input registers absorbed), simulated by the shipped
model; on ECP5 ``MULT18X18D`` is always unregistered (``synth_ecp5`` absorbs no
registers), which :data:`MULT18X18D_BODY` models and anything else stops with ``$fatal``.

``neurofab.bench_gatelevel`` times a gate-level run against the RTL Verilator run of the
same script and reports the netlists' cell counts. See ``docs/cosim.md``, "Gate-level
cosim".
"""

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from neurofab.toolchain import (ToolError, cache_root, locked, run_yosys, yosys_cells,
                                yosys_share, yosys_version)

__all__ = ["FAMILIES", "GEOMETRY", "GateNetlist", "SynthError", "yosys_version",
           "synth", "synth_netlist", "cell_models", "cell_library", "gate_verilog",
           "gate_build"]

FAMILIES = ("ice40", "ecp5")

#: Default core geometry of the gate-level runs: small enough that synthesis and the
#: Verilator build take seconds, large enough to use every kind of memory cell.
GEOMETRY = {"n_neurons": 64, "n_inputs": 16, "syn_capacity": 1024}

#: Bump when the synthesis script or the model library changes in a way keys would not see.
_RECIPE = 1

#: The core's ports: the only signals made public in the Verilator model.
_PORTS = ("clk", "rst", "i_events__*", "o_spikes__*", "i_mem__*", "o_mem__*", "o_idle")

#: Verilator arguments of a gate-level build (on top of ``verilator.build``'s own):
#: only the ports are public (the script player needs nothing else; the cocotb runner,
#: when that player is chosen, passes ``--public-flat-rw``, which would keep every one of
#: the netlist's wires alive and multiply the C++ ~10x); unknown values
#: (``16'bx`` written by the SPRAM model during a write, never-written block RAM outputs)
#: are zero, deterministically; the ECP5 models' ``specify`` blocks are ignored
#: (SPECIFYIGN) and ``TRELLIS_DPR16X4`` initialises with ``<=`` (INITIALDLY).
GATE_ARGS = ("--no-public-flat-rw", "--x-assign", "0", "--x-initial", "0",
             "-Wno-SPECIFYIGN", "-Wno-INITIALDLY")


class SynthError(RuntimeError):
    """Yosys failed; the message ends with the log's tail."""


@dataclass
class GateNetlist:
    """A synthesised netlist (see :func:`synth`)."""
    family: str
    top: str
    text: str                   #: the netlist, ``write_verilog -noattr``
    key: str                    #: cache key
    path: Path                  #: the cached netlist file
    cells: dict = field(default_factory=dict)   #: cell type -> count (Yosys ``stat``)
    cached: bool = False
    synth_s: float = 0.0        #: seconds of the Yosys run (0 on a cache hit)
    notes: list = field(default_factory=list)


# --- synthesis --------------------------------------------------------------------------
def _synth_opts(family, spram):
    from neurofab.boards.build import SYNTH_OPTS
    opts = SYNTH_OPTS[family].split()
    if family == "ice40" and not spram:
        opts = [o for o in opts if o != "-spram"]
    return opts


def _prepare_rtlil(text, family, spram):
    """Memory choices of the board build: on iCE40 the synapse memory goes to SPRAM."""
    notes = []
    if family == "ice40" and spram:
        from neurofab.boards.build import SPRAM_MEMORIES, drop_zero_init
        text, dropped, kept = drop_zero_init(text, SPRAM_MEMORIES)
        if kept:
            notes.append(f"memories {kept} have a non-zero init: left to block RAM")
        for name in dropped:
            # force SPRAM even where block RAM would be cheaper (small test geometries)
            text, n = re.subn(rf"^(\s*)(memory [^\n]* \\{re.escape(name)})$",
                              r'\1attribute \\ram_style "huge"\n\1\2', text, flags=re.M)
            if n:
                notes.append(f"memory {name} mapped to SPRAM")
    return text, notes


def _script(family, top, opts):
    synth_cmd = {"ice40": "synth_ice40", "ecp5": "synth_ecp5"}[family]
    # ``rename -hide``: public internal names are hidden before synthesis (a wire named
    # like a bit select trips an ABC9 assertion, see rtl/encoders/cost.py), and wire and
    # cell names after it (a smaller netlist; the long names ``autoname`` gives crash
    # Verilator 5.048 in a ``--trace`` build); ports keep their names. ``splitnets``: one
    # wire per bit, so that Verilator sees no false combinational loops through multi-bit
    # wires (UNOPTFLAT).
    return (f"read_rtlil design.il; rename -hide w:*; "
            f"{synth_cmd} -top {top} {' '.join(opts)}; "
            f"tee -q -o stat.json stat -json; rename -hide w:* c:*; splitnets; "
            f"write_verilog -noattr netlist.v")


def synth(component, family, *, top="neurofab_core", spram=True, cache_dir=None):
    """Synthesise ``component`` for ``family``; returns a :class:`GateNetlist` (cached).

    Parameters
    ----------
    component : Amaranth component or str
        The design, or its RTLIL text.
    family : "ice40" or "ecp5"
    spram : bool
        iCE40: put the core's synapse memory in SPRAM, as the iCEBreaker build does.
    """
    if family not in FAMILIES:
        raise ValueError(f"family = {family!r} must be one of {FAMILIES}")
    if isinstance(component, str):
        rtlil_text = component
    else:
        from amaranth.back import rtlil
        rtlil_text = rtlil.convert(component, name=top, emit_src=False)
    rtlil_text, notes = _prepare_rtlil(rtlil_text, family, spram)
    opts = _synth_opts(family, spram)
    script = _script(family, top, opts)
    h = hashlib.sha256()
    h.update(json.dumps({"recipe": _RECIPE, "family": family, "top": top, "script": script,
                         "yosys": yosys_version()}, sort_keys=True).encode())
    h.update(b"\0" + rtlil_text.encode())
    key = h.hexdigest()[:24]
    root = (Path(cache_dir) if cache_dir is not None else cache_root()) / "gatelevel"
    final = root / f"{top}-{family}-{key}"
    done = final / "synth.json"

    def load(cached):
        info = json.loads(done.read_text())
        return GateNetlist(family, top, (final / "netlist.v").read_text(), key,
                           final / "netlist.v", info["cells"], cached,
                           0.0 if cached else info["synth_s"], info.get("notes", []))

    if done.exists():
        return load(True)
    with locked(root / f"{final.name}.lock"):
        if done.exists():
            return load(True)
        tmp = final.with_name(f"{final.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / "design.il").write_text(rtlil_text)
        t0 = time.perf_counter()
        # YoWASP maps the working directory: every file is named relative to it
        try:
            run_yosys(script, cwd=tmp, log="yosys.log")
        except ToolError as exc:
            raise SynthError(f"yosys {family} synthesis of {top} failed: {exc}") from None
        synth_s = time.perf_counter() - t0
        if not (tmp / "netlist.v").exists():
            raise SynthError(f"yosys {family} synthesis of {top} wrote no netlist; log "
                             f"{tmp / 'yosys.log'}")
        cells = {k: v for k, v in yosys_cells(tmp / "stat.json").items()
                 if not k.startswith("$scopeinfo")}
        (tmp / "synth.json").write_text(json.dumps({
            "family": family, "top": top, "key": key, "cells": cells,
            "synth_s": round(synth_s, 3), "notes": notes, "script": script,
            "yosys": yosys_version()}, indent=1))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    return load(False)


def synth_netlist(component, family, *, top="neurofab_core", spram=True, cache_dir=None):
    """The mapped netlist of ``component`` for ``family`` (``"ice40"``/``"ecp5"``) as
    Verilog text (``write_verilog -noattr``); cached, see :func:`synth`."""
    return synth(component, family, top=top, spram=spram, cache_dir=cache_dir).text


# --- cell models ------------------------------------------------------------------------
def cell_models(family):
    """The vendor simulation model files Yosys ships for ``family`` (the ``.vh`` files
    that ``ecp5/cells_sim.v`` includes are listed after it)."""
    share = yosys_share()
    if family == "ice40":
        return [share / "ice40" / "cells_sim.v"]
    if family == "ecp5":
        d = share / "ecp5"
        return [d / "cells_sim.v", d / "common_sim.vh", d / "ccu2c_sim.vh",
                d / "cells_ff.vh", d / "cells_io.vh", d / "cells_bb.v"]
    raise ValueError(f"family = {family!r} must be one of {FAMILIES}")


def _inline_includes(text, folder, seen=None):
    """``text`` with its ``include`` lines replaced by the files, each file once (both
    ``cells_sim.v`` and ``common_sim.vh`` include ``cells_ff.vh`` and ``cells_io.vh``)."""
    seen = set() if seen is None else seen

    def repl(m):
        if m.group(1) in seen:
            return ""
        seen.add(m.group(1))
        return _inline_includes((folder / m.group(1)).read_text(), folder, seen)
    return re.sub(r'^\s*`include\s+"([^"]+)"\s*$', repl, text, flags=re.M)


def _module(text, name):
    """The text of ``module name ... endmodule`` in ``text`` (with a leading attribute)."""
    m = re.search(rf"(?:\(\*[^*]*\*\)\s*)?\bmodule\s+{name}\s*\(.*?\bendmodule\b", text,
                  re.S)
    if m is None:
        raise SynthError(f"no module {name} in the Yosys cell library")
    return m


def _with_body(decl, body):
    """A black-box module declaration with a behavioural ``body`` in place."""
    decl = re.sub(r"^\(\*[^*]*\*\)\s*", "", decl)
    return decl[:decl.rindex("endmodule")] + body + "endmodule\n"


def _pins(prefix, n):
    return "{" + ", ".join(f"{prefix}{i}" for i in reversed(range(n))) + "}"


#: Behavioural body of the ECP5 ``DP16KD`` (18 Kbit true dual-port block RAM) for the
#: shipped black-box interface. Memory: 1024 words of 18 bits, initialised from
#: ``INITVAL_00..3F`` (each 16 words of 20 bits, the low 18 used). Port widths 1, 2, 4, 9,
#: 18 (``AD[13:4]`` word, ``AD[1:0]`` byte enables of a x18 write; narrower widths take the
#: low address bits as the position in the word: x9 a 9-bit byte, x4/x2/x1 the 16 data
#: bits that leave out bits 8 and 17) and 36 (pseudo dual port: A writes ``{DIB, DIA}``
#: with byte enables ``ADA[3:0]``, B reads ``{DOB, DOA}``; the low half is the even word).
#: ``WRITEMODE`` NORMAL (output held during a write), WRITETHROUGH (new data),
#: READBEFOREWRITE (old data); ``REGMODE`` NOREG/OUTREG; ``RESETMODE`` SYNC/ASYNC resets
#: the output to zero (a sync reset wins over a write); ``CSDECODE``; ``CLK``/``WE``/``CE``/
#: ``OCE``/``RST`` muxes (``INV``). Read outputs start at zero. Writes of both ports to the
#: same word in one clock are undefined in hardware; here both apply, B last.
DP16KD_BODY = r"""
	// ---- neurofab behavioural model (Yosys ships DP16KD as a black box) ----
	localparam WA = DATA_WIDTH_A, WB = DATA_WIDTH_B;
	wire clka = (CLKAMUX == "INV") ? ~CLKA : CLKA;
	wire clkb = (CLKBMUX == "INV") ? ~CLKB : CLKB;
	wire wea = (WEAMUX == "INV") ? ~WEA : WEA;
	wire web = (WEBMUX == "INV") ? ~WEB : WEB;
	wire cea = (CEAMUX == "INV") ? ~CEA : CEA;
	wire ceb = (CEBMUX == "INV") ? ~CEB : CEB;
	wire ocea = (OCEAMUX == "INV") ? ~OCEA : OCEA;
	wire oceb = (OCEBMUX == "INV") ? ~OCEB : OCEB;
	wire rsta = (RSTAMUX == "INV") ? ~RSTA : RSTA;
	wire rstb = (RSTBMUX == "INV") ? ~RSTB : RSTB;
	function [2:0] csd;
		input [8*5-1:0] s;
		csd = (s == "0b001") ? 3'd1 : (s == "0b010") ? 3'd2 : (s == "0b011") ? 3'd3 :
		      (s == "0b100") ? 3'd4 : (s == "0b101") ? 3'd5 : (s == "0b110") ? 3'd6 :
		      (s == "0b111") ? 3'd7 : 3'd0;
	endfunction
	wire csa = ({CSA2, CSA1, CSA0} == csd(CSDECODE_A));
	wire csb = ({CSB2, CSB1, CSB0} == csd(CSDECODE_B));
	wire [13:0] ada = @ADA@;
	wire [13:0] adb = @ADB@;
	wire [17:0] dia = @DIA@;
	wire [17:0] dib = @DIB@;

	reg [17:0] mem [0:1023];
	reg [17:0] doa_q, dob_q, doa_r, dob_r;
	assign @DOA@ = (REGMODE_A == "OUTREG") ? doa_r : doa_q;
	assign @DOB@ = (REGMODE_B == "OUTREG") ? dob_r : dob_q;

	integer i;
	initial begin
		for (i = 0; i < 16; i = i + 1) begin
@INIT@
		end
		doa_q = 18'd0; dob_q = 18'd0; doa_r = 18'd0; dob_r = 18'd0;
	end

	function [9:0] word_of;          // 18-bit word addressed by a port of width w
		input [13:0] ad;
		input integer w;
		word_of = (w == 36) ? {ad[13:5], 1'b0} : ad[13:4];
	endfunction
	function [15:0] data16;
		input [17:0] word;
		data16 = {word[16:9], word[7:0]};
	endfunction
	function [17:0] rd;              // what a read of width w < 36 returns (low bits)
		input [17:0] word;
		input [13:0] ad;
		input integer w;
		reg [15:0] d;
		begin
			d = data16(word);
			case (w)
				18: rd = word;
				9: rd = ad[3] ? {9'd0, word[17:9]} : {9'd0, word[8:0]};
				4: rd = {14'd0, d[4*ad[3:2] +: 4]};
				2: rd = {16'd0, d[2*ad[3:1] +: 2]};
				default: rd = {17'd0, d[ad[3:0]]};
			endcase
		end
	endfunction
	function [17:0] wr;              // the word after a write of width w < 36
		input [17:0] word;
		input [13:0] ad;
		input integer w;
		input [17:0] di;
		reg [15:0] d;
		begin
			d = data16(word);
			wr = word;
			case (w)
				18: begin
					if (ad[0]) wr[8:0] = di[8:0];
					if (ad[1]) wr[17:9] = di[17:9];
				end
				9: if (ad[3]) wr[17:9] = di[8:0]; else wr[8:0] = di[8:0];
				4: begin d[4*ad[3:2] +: 4] = di[3:0]; wr = {word[17], d[15:8], word[8], d[7:0]}; end
				2: begin d[2*ad[3:1] +: 2] = di[1:0]; wr = {word[17], d[15:8], word[8], d[7:0]}; end
				default: begin d[ad[3:0]] = di[0]; wr = {word[17], d[15:8], word[8], d[7:0]}; end
			endcase
		end
	endfunction
	function [17:0] wr_bytes;        // x36 half-word write with two byte enables
		input [17:0] word;
		input [1:0] be;
		input [17:0] di;
		begin
			wr_bytes = word;
			if (be[0]) wr_bytes[8:0] = di[8:0];
			if (be[1]) wr_bytes[17:9] = di[17:9];
		end
	endfunction

	wire [9:0] wa = word_of(ada, WA);
	wire [9:0] wb = word_of(adb, WB);

	// port A: x36 writes only (pseudo dual port); other widths read and write
	generate if (RESETMODE == "ASYNC") begin : a_async
		always @(posedge clka or posedge rsta)
			if (rsta) doa_q <= 18'd0;
			else if (cea && csa && WA != 36) begin
				if (wea) begin
					mem[wa] <= wr(mem[wa], ada, WA, dia);
					if (WRITEMODE_A == "WRITETHROUGH") doa_q <= rd(wr(mem[wa], ada, WA, dia), ada, WA);
					else if (WRITEMODE_A == "READBEFOREWRITE") doa_q <= rd(mem[wa], ada, WA);
				end else
					doa_q <= rd(mem[wa], ada, WA);
			end
	end else begin : a_sync
		always @(posedge clka)
			if (rsta) doa_q <= 18'd0;
			else if (cea && csa && WA != 36) begin
				if (wea) begin
					mem[wa] <= wr(mem[wa], ada, WA, dia);
					if (WRITEMODE_A == "WRITETHROUGH") doa_q <= rd(wr(mem[wa], ada, WA, dia), ada, WA);
					else if (WRITEMODE_A == "READBEFOREWRITE") doa_q <= rd(mem[wa], ada, WA);
				end else
					doa_q <= rd(mem[wa], ada, WA);
			end
	end endgenerate
	always @(posedge clka)
		if (cea && csa && WA == 36 && wea && !(rsta && RESETMODE == "SYNC")) begin
			mem[wa] <= wr_bytes(mem[wa], ada[1:0], dia);
			mem[wa | 10'd1] <= wr_bytes(mem[wa | 10'd1], ada[3:2], dib);
		end

	// port B: x36 reads only (pseudo dual port), onto DOA (even word) and DOB
	generate if (RESETMODE == "ASYNC") begin : b_async
		always @(posedge clkb or posedge rstb)
			if (rstb) begin
				dob_q <= 18'd0;
				if (WB == 36) doa_q <= 18'd0;
			end else if (ceb && csb) begin
				if (WB == 36) begin
					doa_q <= mem[wb];
					dob_q <= mem[wb | 10'd1];
				end else if (web) begin
					mem[wb] <= wr(mem[wb], adb, WB, dib);
					if (WRITEMODE_B == "WRITETHROUGH") dob_q <= rd(wr(mem[wb], adb, WB, dib), adb, WB);
					else if (WRITEMODE_B == "READBEFOREWRITE") dob_q <= rd(mem[wb], adb, WB);
				end else
					dob_q <= rd(mem[wb], adb, WB);
			end
	end else begin : b_sync
		always @(posedge clkb)
			if (rstb) begin
				dob_q <= 18'd0;
				if (WB == 36) doa_q <= 18'd0;
			end else if (ceb && csb) begin
				if (WB == 36) begin
					doa_q <= mem[wb];
					dob_q <= mem[wb | 10'd1];
				end else if (web) begin
					mem[wb] <= wr(mem[wb], adb, WB, dib);
					if (WRITEMODE_B == "WRITETHROUGH") dob_q <= rd(wr(mem[wb], adb, WB, dib), adb, WB);
					else if (WRITEMODE_B == "READBEFOREWRITE") dob_q <= rd(mem[wb], adb, WB);
				end else
					dob_q <= rd(mem[wb], adb, WB);
			end
	end endgenerate

	// optional output registers
	always @(posedge clka) if (ocea) doa_r <= (rsta && RESETMODE == "SYNC") ? 18'd0 : doa_q;
	always @(posedge clkb) if (oceb) dob_r <= (rstb && RESETMODE == "SYNC") ? 18'd0 : dob_q;
"""

#: Behavioural body of the ECP5 ``MULT18X18D`` in the configuration ``synth_ecp5`` emits
#: (``dsp_map_18x18.v``: every register bypassed, ``SOURCEA = SOURCEB = 0``): ``P = A * B``,
#: each operand signed when its ``SIGNEDA``/``SIGNEDB`` input is high. A registered
#: configuration stops the simulation with an error rather than simulate wrongly.
MULT18X18D_BODY = r"""
	// ---- neurofab behavioural model (Yosys ships MULT18X18D as a black box) ----
	wire [17:0] a_ = @A@;
	wire [17:0] b_ = @B@;
	wire [17:0] c_ = @C@;
	wire signed [18:0] a_x = {SIGNEDA & a_[17], a_};
	wire signed [18:0] b_x = {SIGNEDB & b_[17], b_};
	wire signed [37:0] p_ = a_x * b_x;
	assign @P@ = p_[35:0];
	assign SIGNEDP = SIGNEDA | SIGNEDB;
	assign @ROA@ = a_;
	assign @ROB@ = b_;
	assign @ROC@ = c_;
	assign @SROA@ = a_;
	assign @SROB@ = b_;
	initial
		if (REG_INPUTA_CLK != "NONE" || REG_INPUTB_CLK != "NONE" ||
		    REG_INPUTC_CLK != "NONE" || REG_PIPELINE_CLK != "NONE" ||
		    REG_OUTPUT_CLK != "NONE" || SOURCEB_MODE == "B_SHIFT_REG")
			$fatal(1, "MULT18X18D model: only the unregistered configuration is modelled");
"""


def _subst(body, mapping):
    for name, value in mapping.items():
        body = body.replace(f"@{name}@", value)
    return body


def _dp16kd(decl):
    init = "\n".join(f"\t\t\tmem[16 * {k} + i] = INITVAL_{k:02X}[20 * i +: 18];"
                     for k in range(64))
    body = _subst(DP16KD_BODY, {
        "ADA": _pins("ADA", 14), "ADB": _pins("ADB", 14), "DIA": _pins("DIA", 18),
        "DIB": _pins("DIB", 18), "DOA": _pins("DOA", 18), "DOB": _pins("DOB", 18),
        "INIT": init})
    missing = [p for p in ("WEAMUX", "WEBMUX", "CEAMUX", "CEBMUX", "OCEAMUX", "OCEBMUX",
                           "RSTAMUX", "RSTBMUX", "CLKAMUX", "CLKBMUX", "WRITEMODE_A",
                           "WRITEMODE_B", "CSDECODE_A", "CSDECODE_B", "REGMODE_A",
                           "REGMODE_B", "RESETMODE")
               if not re.search(rf"\bparameter\s+(\[[^]]*\]\s*)?{p}\b", decl)]
    extra = "".join(f'\tparameter {p} = "{p[:-3] if p.endswith("MUX") else ""}";\n'
                    for p in missing)
    return _with_body(decl, extra + body)


def _mult18x18d(decl):
    body = _subst(MULT18X18D_BODY, {
        "A": _pins("A", 18), "B": _pins("B", 18), "C": _pins("C", 18), "P": _pins("P", 36),
        "ROA": _pins("ROA", 18), "ROB": _pins("ROB", 18), "ROC": _pins("ROC", 18),
        "SROA": _pins("SROA", 18), "SROB": _pins("SROB", 18)})
    return _with_body(decl, body)


def cell_library(family):
    """The cell models of ``family`` as one Verilog text, as the gate-level build compiles
    them: ``ice40/cells_sim.v`` as shipped; for ECP5 ``cells_sim.v`` with its includes
    inlined and the ``DP16KD``/``MULT18X18D`` black boxes given behavioural bodies."""
    files = cell_models(family)
    if family == "ice40":
        return files[0].read_text()
    sim, bb = files[0], files[-1]
    text = _inline_includes(sim.read_text(), sim.parent)
    m = _module(text, "DP16KD")
    text = text[:m.start()] + _dp16kd(m.group(0)) + text[m.end():]
    mult = _module(bb.read_text(), "MULT18X18D").group(0)
    return text + "\n" + _mult18x18d(mult)


def _public_ports(top, ports=_PORTS):
    lines = "".join(f'public_flat_rw -module "{top}" -var "{p}"\n' for p in ports)
    return f"\n`verilator_config\n{lines}`verilog\n"


def gate_verilog(component, family, *, top="neurofab_core", spram=True, cache_dir=None):
    """The Verilog a gate-level simulation compiles: the cell models of ``family``
    (:func:`cell_library`) followed by the netlist of ``component`` (or RTLIL text)
    synthesised for ``family`` (:func:`synth`, cached), top module ``top``.

    Returns
    -------
    text : str
    netlist : GateNetlist
    """
    net = synth(component, family, top=top, spram=spram, cache_dir=cache_dir)
    text = (f"// gate-level model: {family} netlist of {top} + Yosys cell models\n"
            + cell_library(family) + "\n" + net.text)
    return text, net


def gate_build(component, family, *, top="neurofab_core", trace=False, spram=True,
               ports=_PORTS, cache_dir=None):
    """Synthesise ``component`` (or RTLIL text) for ``family`` and compile the netlist with
    the cell models under Verilator. ``ports``: name patterns of the top-level signals the
    simulator may access (default: the neuron core's). Returns ``(VerilatorBuild,
    GateNetlist)`` (both cached)."""
    from .verilator import build
    text, net = gate_verilog(component, family, top=top, spram=spram, cache_dir=cache_dir)
    text += _public_ports(top, ports)
    # a traced build records the netlist's nets, not the insides of the cell models
    args = GATE_ARGS + (("--trace-depth", "1") if trace else ())
    b = build(text, name=top, trace=trace, build_args=args, cache_dir=cache_dir)
    return b, net
