#!/usr/bin/env python3
"""The module graph of spoa/, from its #include "..." lines.

A module is x.c with x.h; a types header (x-t.h) and a private header
(x_int.h) are modules of their own, since that is what they are for: they
let two modules share types without depending on each other's functions.
An edge a -> b means a.c or a.h includes b.h. Exits 1, naming the modules,
when the graph has a cycle (the include graph must flow one way).

  include_graph.py [DIR]            check (make test runs this)
  include_graph.py --layers [DIR]   also print each module's layer: 0 for a
                                    module that includes none of the others,
                                    else 1 + the highest layer it includes
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)\.h"', re.M)


def graph(d):
    g = {}
    for f in sorted(os.listdir(d)):
        if not f.endswith(('.c', '.h')):
            continue
        m = f[:-2]
        with open(os.path.join(d, f), encoding='utf-8') as fh:
            deps = set(INCLUDE.findall(fh.read()))
        g.setdefault(m, set()).update(x for x in deps if x != m)
    for m in g:
        g[m] = {x for x in g[m] if x in g}
    return g


def cycles(g):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def layers(g):
    memo = {}

    def layer(v):
        if v not in memo:
            memo[v] = 0
            memo[v] = 1 + max((layer(w) for w in g[v]), default=-1)
        return memo[v]

    for v in g:
        layer(v)
    return memo


def main(argv):
    show = '--layers' in argv
    args = [a for a in argv if a != '--layers']
    d = args[0] if args else 'spoa'
    g = graph(d)
    bad = cycles(g)
    for comp in bad:
        print('include cycle: ' + ' <-> '.join(comp))
    if show and not bad:
        by = {}
        for m, n in layers(g).items():
            by.setdefault(n, []).append(m)
        for n in sorted(by, reverse=True):
            print(f'{n:2d}  ' + ' '.join(sorted(by[n])))
    print(f'include graph: {len(g)} modules, {sum(len(v) for v in g.values())} edges, '
          f'{len(bad)} cycles')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
