#!/usr/bin/env python3
"""module-cycles.py — fails when the files of one directory depend on each
other in a loop (issue 12: "no file of agent/ includes or calls a file that
includes or calls it back").

A module is NAME.c with its NAME.h (and NAME-private.h).  NAME depends on
OTHER when NAME.c or NAME.h includes OTHER.h, or when NAME's object file
uses a symbol that OTHER's object file defines (nm).  The graph must have no
cycle; the script prints each strongly connected component of more than one
module, with the edges that close it.

A header with no .c of its own (declarations only, like handlers.h) is not
a module: including it is no dependency.

Usage: module-cycles.py SOURCE_DIR OBJECT_OR_ARCHIVE...
"""
import os
import re
import subprocess
import sys


def module_of(path):
    base = os.path.basename(path)
    base = re.sub(r'\.(c|h)(\.o|\.obj)?$', '', base)
    base = re.sub(r'-private$', '', base)
    return base


def main():
    src, objects = sys.argv[1], sys.argv[2:]
    modules = {module_of(f) for f in os.listdir(src) if f.endswith('.c')}
    deps = {m: {} for m in modules}   # module -> {other: reason}

    inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    for f in os.listdir(src):
        if not f.endswith(('.c', '.h')):
            continue
        m = module_of(f)
        if m not in deps:
            continue
        with open(os.path.join(src, f), encoding='utf-8') as fh:
            for h in inc.findall(fh.read()):
                if '/' in h:
                    continue
                o = module_of(h)
                if o != m and o in modules:
                    deps[m].setdefault(o, f'{f} includes {h}')

    defined, used = {}, {}
    for obj in objects:
        m = module_of(os.path.basename(obj))
        out = subprocess.run(['nm', obj], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.endswith('.o:'):            # a member of an archive
                m = module_of(line[:-1])
                continue
            parts = line.split()
            if len(parts) == 3 and parts[1] in 'TDBRWVGSC':
                defined[parts[2]] = m
            elif len(parts) == 2 and parts[0] == 'U':
                used.setdefault(m, set()).add(parts[1])
    if not used:
        print('no object files read', file=sys.stderr)
        return 1
    for m, syms in used.items():
        for s in syms:
            o = defined.get(s)
            if o is not None and o != m and m in deps:
                deps[m].setdefault(o, f'{m}.c calls {s} ({o}.c)')

    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in deps[v]:
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
            sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(deps):
        if v not in index:
            visit(v)
    loops = [sorted(c) for c in sccs if len(c) > 1]
    for c in loops:
        print('loop: ' + ' '.join(c))
        for m in c:
            for o, why in sorted(deps[m].items()):
                if o in c:
                    print(f'  {why}')
    if loops:
        return 1
    print(f'{len(modules)} modules of {src}, no loop')
    return 0


if __name__ == '__main__':
    sys.exit(main())
