"""Protection of a neuron core's memories against single-event upsets
(``docs/reliability.md``).

A core built with ``parity=`` some of :data:`PARITY_MEMORIES` (``rtl.core.NeuronCore``)
stores one parity bit above every word of those configuration memories — synapses, row
pointers, profiles — (the bit makes the number of 1 bits even), checks it whenever the
datapath reads the word and counts the words found wrong in a saturating counter,
readable and writable through the memory port at ``CTRL`` index :data:`CTRL_PARITY`. The
memory layouts seen through the memory port do not change.
"""

__all__ = ["CTRL_PARITY", "PARITY_COUNT_WIDTH", "PARITY_MEMORIES", "parity_bit",
           "with_parity"]

#: ``CTRL`` index of the parity-error counter of a protected core (free on every core:
#: ``Ctrl`` uses 0..4, the rule table 8..11, the homeostasis table 16..31).
CTRL_PARITY = 5
#: Width of the parity-error counter (saturates at ``2**PARITY_COUNT_WIDTH - 1``).
PARITY_COUNT_WIDTH = 16
#: The memories that can carry a parity bit (``NeuronCore(parity=...)``; the names of
#: ``neurofab.faults``): written only through the memory port, so the bit is computed
#: off the datapath.
PARITY_MEMORIES = ("synapse", "rowptr", "profile")


def parity_bit(word):
    """Even parity of an int word: 1 if it has an odd number of 1 bits."""
    return int(word).bit_count() & 1


def with_parity(words, width):
    """``words`` (ints of at most ``width`` bits) with their parity bit at bit ``width``:
    what a protected memory stores."""
    return [int(w) | parity_bit(w) << width for w in words]
