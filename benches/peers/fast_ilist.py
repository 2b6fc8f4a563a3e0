"""pynetgen's `IndexList` with the same answers in O(log n) a call.

pynetgen 1.0.0 keeps NETGEN's index list (the integers a..b; take out the one at a 1-based
position, or a given value; NETGEN's "pseudo size") as a Python list, and NETGEN builds a
fresh list of all n nodes for every skeleton tail: quadratic in the nodes, over 30 minutes of
CPU at 2^18 nodes. This class keeps the range and a sorted list of the values taken out, so
the generator's random stream, its choices and its files are the same (`install` checks two
small files against pynetgen's own before it is used; the suite's files up to 2^16 nodes
were compared byte for byte once).
"""
import bisect


class FastIndexList:
    def __init__(self, a=None, b=None):
        if a is None or b is None:
            self._a, self._b = 1, 0
        else:
            a, b = int(a), int(b)
            if b < a:
                raise ValueError("index list bounds must satisfy b >= a")
            self._a, self._b = a, b
        self._out = []  # values of [a, b] taken out, ascending
        self._pseudo_size = len(self)

    def __len__(self):
        return self._b - self._a + 1 - len(self._out)

    def _value_at(self, pos):
        """The (pos + 1)-th value still in: the least v with v = a + pos + #(out <= v), found
        by iterating that map upwards from a + pos (it is non-decreasing)."""
        v = self._a + pos
        while True:
            nv = self._a + pos + bisect.bisect_right(self._out, v)
            if nv == v:
                return v
            v = nv

    def pop(self, index=-1):
        # As pynetgen: a position outside 1..len (the default -1 included) answers 0.
        if index < 1 or index > len(self):
            return 0
        if self._pseudo_size > 0:
            self._pseudo_size -= 1
        v = self._value_at(index - 1)
        bisect.insort(self._out, v)
        return v

    choose_index = pop

    def remove(self, value):
        self.pseudo_size -= 1
        if self._a <= value <= self._b:
            i = bisect.bisect_left(self._out, value)
            if i == len(self._out) or self._out[i] != value:
                self._out.insert(i, value)

    remove_index = remove

    @property
    def pseudo_size(self):
        return max(self._pseudo_size, 0)

    @pseudo_size.setter
    def pseudo_size(self, num):
        self._pseudo_size = num


def install():
    """Use FastIndexList in pynetgen's NETGEN generator, once it has written the same small
    NETGEN-8 and NETGEN-SR files as pynetgen's own lists (else the run stops)."""
    import filecmp
    import tempfile
    from pathlib import Path
    import pynetgen
    import pynetgen.gen.netgen as netgen
    import pynetgen.util.ilist as ilist
    if netgen.IndexList is FastIndexList:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for arcs in (8 * 1024, 32 * 1024):  # 2^10 nodes: NETGEN-8, and NETGEN-SR's n sqrt(n)
            files = []
            for cls in (ilist.IndexList, FastIndexList):
                netgen.IndexList = cls
                files.append(Path(tmp) / f"{cls.__name__}_{arcs}.min")
                pynetgen.netgen_generate(seed=13502460, nodes=1024, sources=32, sinks=32, density=arcs,
                                         mincost=1, maxcost=10000, supply=32000, tsources=0, tsinks=0,
                                         hicost=100, capacitated=100, mincap=1, maxcap=1000, rng=0,
                                         fname=str(files[-1]))
            if not filecmp.cmp(files[0], files[1], shallow=False):
                netgen.IndexList = ilist.IndexList
                raise SystemExit("fast_ilist: a file differs from pynetgen's own; not used")
    netgen.IndexList = FastIndexList
