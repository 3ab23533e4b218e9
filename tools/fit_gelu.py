#!/usr/bin/env python3
"""Fits the coefficients of GeluOperator (runtime/EdgeCompile.Runtime/Kernels.Elementwise.cs).

gelu(x) = max(x, 0) - t*E(t), t = |x|, E(t) = erfc(t/sqrt 2)/2 = 2^q(t). Prints
  - q: degree-9 minimax polynomial of log2 E on [0, 6.5], weighted by E(t)*max(1, t) (how an error in q reaches
    gelu), with its coefficients in u = -t (the variable the kernel evaluates), constant term -1;
  - 2^r on [-1/2, 1/2]: degree-6 minimax, relative error.
Remez exchange on a dense Chebyshev grid in 40-digit arithmetic. Needs mpmath (pip install mpmath); not run by CI.
"""
import struct

import mpmath as mp

mp.mp.dps = 40


def remez(f, w, a, b, deg, iters=40, grid=3000, init=1.0):
    """Minimax p of degree deg for max |(p - f)·w| on [a, b]; returns (coefficients low to high, max weighted error).
    init < 1 starts the reference on [a, a + init·(b − a)] plus b (where w decays fast, points there first)."""
    xs = [a + (b - a) * (1 - mp.cos(mp.pi * i / grid)) / 2 for i in range(grid + 1)]
    fx, wx = [f(x) for x in xs], [w(x) for x in xs]
    n = deg + 2
    ref = [a + (b - a) * init * (1 - mp.cos(mp.pi * i / (n - 1))) / 2 for i in range(n - 1)] + [b]
    for _ in range(iters):
        A, rhs = mp.matrix(n, n), mp.matrix(n, 1)
        for i, x in enumerate(ref):
            for j in range(deg + 1):
                A[i, j] = x ** j
            A[i, deg + 1] = (-1) ** i / w(x)
            rhs[i] = f(x)
        sol = mp.lu_solve(A, rhs)
        c = [sol[j] for j in range(deg + 1)]
        err = [(mp.polyval(c[::-1], x) - fx[k]) * wx[k] for k, x in enumerate(xs)]
        # New reference: the local extrema of the weighted error, one per run of equal sign.
        ext = []
        for k in range(len(xs)):
            e = err[k]
            if (k == 0 or abs(e) >= abs(err[k - 1])) and (k + 1 == len(xs) or abs(e) >= abs(err[k + 1])):
                if ext and mp.sign(err[ext[-1]]) == mp.sign(e):
                    if abs(e) > abs(err[ext[-1]]):
                        ext[-1] = k
                else:
                    ext.append(k)
        while len(ext) > n:
            ext.pop(0 if abs(err[ext[0]]) < abs(err[ext[-1]]) else -1)
        if len(ext) < n:
            extra = sorted((k for k in range(len(xs)) if k not in ext), key=lambda k: -abs(err[k]))[:n - len(ext)]
            ext = sorted(ext + extra)
        maxe, level = max(abs(e) for e in err), abs(sol[deg + 1])
        ref = [xs[k] for k in ext]
        if maxe - level < level * mp.mpf('1e-6'):
            break
    return c, maxe


def as_float(x):
    return '%.9ef' % struct.unpack('f', struct.pack('f', float(x)))[0]


def tail(t):
    return mp.erfc(t / mp.sqrt(2)) / 2


if __name__ == '__main__':
    c, e = remez(lambda t: mp.log(tail(t), 2), lambda t: tail(t) * max(1, t), mp.mpf(0), mp.mpf('6.5'), 9, init=0.7)
    print('q: max weighted error', mp.nstr(e, 4))
    for k, ck in enumerate(c):
        print('  Q%d = %s' % (k, as_float(ck * (-1) ** k)))
    c, e = remez(lambda r: mp.power(2, r), lambda r: 1 / mp.power(2, r), mp.mpf('-0.5'), mp.mpf('0.5'), 6, grid=2000)
    print('2^r: max relative error', mp.nstr(e, 4))
    for k, ck in enumerate(c):
        print('  P%d = %s' % (k, as_float(ck)))
