"""Benchmark of advocate selection (influence maximisation) on the research graphs.

    pip install -e '.[bench]'          # pynetim and cynetdiff, for this script only
    python benchmarks/influence.py                     # the five graphs, k = 50, 3 runs
    python benchmarks/influence.py --graphs nethept --runs 5

Independent cascade with weighted-cascade probabilities (p(u, v) = 1 / in-degree(v)), k = 50.
For each graph: Dialogo's ``imm`` (OPIM-C stopping plus the precision rule, see
``dialogo.influence.imm``; ε = 0.1, median wall and CPU time of ``--runs`` runs after one
warm-up run that also compiles or loads the numba kernels) and pynetim's IMMAlgorithm
(ε = 0.1, one run; the named baseline). ``--compare path/to/imm.py`` times another version of
the module (e.g. the committed one: ``git archive HEAD | tar -x -C /tmp/imm_old``, then
``--compare /tmp/imm_old/src/dialogo/influence/imm.py``) on a row
of its own, its runs interleaved with ours so that both share the machine's load. The spread
of each seed set is measured by cynetdiff (an independent simulator) over 10,000 cascades, and
Dialogo's own simulator is run on the same seeds as a cross-check. "best" and the C++ times
are the numbers quoted in ../shared/data/README.md. Graph loading is excluded from every time.
The graphs are read from ../shared/data/graphs and never copied. Prints a table; it is not a
timed test.

On the idle machine (nothing else running), the final tree of 2026-12-07 against the
committed module of the session before (``git archive d78e398``), ``--runs 5 --compare``,
04:24-04:31 UTC, load 1.9 → 1.0::

  graph     wall s cpu s  RR sets   spread %best | pynetim s | ×pynetim wall/cpu | ×C++ wall/cpu
  nethept    0.091 0.162   586528    961.4 99.6% |      2.63 |   28.8×/  16.2× | 2.3×/4.1×
    before   0.080 0.144   586528    961.4 99.6% |           |   33.1×/  18.3× | 2.0×/3.6×
  facebook   0.026 0.044    73751   1214.2 99.3% |     12.69 |  496.3×/ 287.8× | 4.3×/7.3×
    before   0.027 0.043    73751   1214.2 99.3% |           |  478.4×/ 296.3× | 4.4×/7.1×
  wikivote   0.017 0.026   227084    668.6 99.3% |      2.41 |  143.8×/  91.7× | 1.5×/2.4×
    before   0.016 0.026   227084    668.6 99.3% |           |  155.2×/  92.5× | 1.4×/2.4×
  enron      0.019 0.033    43656  11723.6 99.1% |     30.22 | 1622.8×/ 917.1× | 1.2×/2.2×
    before   0.020 0.035    43656  11723.6 99.1% |           | 1483.4×/ 869.1× | 1.4×/2.3×
  netphy     0.113 0.189   699584   1395.4 99.0% |     19.05 |  169.0×/ 100.7× | 1.4×/2.4×
    before   0.090 0.166   699584   1395.4 99.0% |           |  211.9×/ 114.4× | 1.1×/2.1×

Then ``--runs 7 --graphs nethept netphy facebook --no-pynetim --simulations 1000 --compare``
twice (04:31, load 1.0-1.1), wall s ours / before: nethept 0.083 / 0.082 and 0.094 / 0.079,
netphy 0.127 / 0.131 and 0.085 / 0.090, facebook 0.021 / 0.021 and 0.019 / 0.020 (3.1-3.5×
SUBSIM). So on the idle machine the two versions cannot be told apart (the rows above differ
by as much either way from one run to the next); the goals of issue #8 hold in wall time on
all five graphs (facebook 3.1-4.3× SUBSIM over the three runs). In CPU time, which counts
both threads against the C++ tools' one, facebook is 5.8-7.3×. Two more runs, ``--runs 5
--graphs facebook``, 05:04-05:05 UTC (load 1.5 → 1.3): 0.022 s wall / 0.037 s CPU (3.7× /
6.1×) and 0.015 / 0.029 s (2.6× / 4.8×), pynetim 5.77 and 5.38 s (5.34 s in the last session's
idle run, where the module before took 0.032 s).

Facebook's wall time (issue #8), 2026-12-07 03:28-04:11 UTC, the machine busy throughout
(load average 2-7: other helpers' test suites and benchmarks, pynetim took 8-74 s on facebook).
Where the wall time went, as the critical path of thread CPU times (the module docstring has
the breakdown): the two threads were even but for the serial parts (1.7 of ~17 ms: the
prologue, the first round on one thread, Python between kernels, the join) and the final
greedy on R1 ∪ R2 against R3's draw (~0.5 ms more at load 3, ~3 ms at load 5), over 13
hand-offs per call. Changed (``src/dialogo/influence/imm.py``): each pool grows and runs its
greedy in one task per round (9 hand-offs instead of 13), the first round runs on both threads
(``_PARALLEL_FROM`` 2,048 → 256), and the greedies whose upper bound is unused skip it. The
same seeds, RR sets and estimates as before on all five graphs (seeds 0-4, checked), so the
spreads are unchanged. ``python benchmarks/influence.py --runs 5 --compare
/tmp/immwall_old/src/dialogo/influence/imm.py`` ("before": the committed module, ``git archive
HEAD``; runs interleaved), 04:02-04:10 UTC, load 4.6 at the start, 3.7 at the end::

  ours / before:  wall s         cpu s          ×pynetim wall    ×C++ wall   ×C++ cpu
  nethept         0.112 / 0.107  0.151 / 0.122   13.0× / 13.7×   2.8× / 2.7×  3.8× / 3.0×
  facebook        0.023 / 0.031  0.028 / 0.031  346.9× / 260.5×  3.8× / 5.1×  4.7× / 5.2×
  wikivote        0.011 / 0.015  0.019 / 0.021   81.0× / 59.6×   1.0× / 1.4×  1.7× / 1.9×
  enron           0.029 / 0.029  0.026 / 0.027   1122× / 1152×   2.0× / 1.9×  1.7× / 1.8×
  netphy          0.187 / 0.198  0.178 / 0.192  132.3× / 124.6×  2.3× / 2.5×  2.2× / 2.4×

RR sets (median) and spreads (the lowest of the 5 runs, cynetdiff, % of the best known) are
the same in both rows: nethept 586,528, 961.4 (99.6 %); facebook 73,751, 1,214.2 (99.3 %);
wikivote 227,084, 668.6 (99.3 %); enron 43,656, 11,723.6 (99.1 %); netphy 699,584, 1,395.4
(99.0 %). pynetim: 1.46, 8.01, 0.89, 32.89 and 24.73 s wall.

Facebook 3.8× SUBSIM's 0.006 s in wall time here (before, in the same run, 5.1×), 4.7× in CPU
time; all three goals of issue #8 hold in this run on all five graphs (spread ≥ 99 % of the
best known; ≥ 10× pynetim and within 5× of the faster C++ tool in wall time; in CPU time
nethept is 9.7× pynetim). Nethept's CPU +24 % against before is the noise of 5 runs: 21
calls of each interleaved (04:10 UTC, load 3.2 → 3.9) took 142.7 against 143.6 ms of CPU, a
critical path of 78.8 against 77.6 ms. The same command with ``--graphs facebook``
(the final tree; ours, then before, wall / CPU s): 03:59-04:01 UTC (load 3.6 → 5.1) 0.064 /
0.039 against 0.084 / 0.040; 04:01-04:02 UTC (load 5.2 → 4.7) 0.043 / 0.046 against 0.048 /
0.045; and at 03:56-03:58 (load 3.1 → 4.4, before the greedies skipped their unused bounds)
0.036 / 0.036 both, the two threads sharing one core. At these loads the wall time follows
the other helpers more than the code: the side-by-side critical path (seeds 0-60, each call
interleaved, 03:59 UTC, load 4.9 → 4.2) is the steadier measure, 21.6 against 23.3 ms (−7 %),
its serial part 1.5 against 2.6 ms, CPU 40.5 against 42.3 ms; enron 14.3 against 15.9 ms
(−10 %), netphy 88.3 against 91.7 ms (−4 %). So about half of the 15-30 % asked for comes from
the serial parts and the hand-offs; the rest of facebook's wall time is the draw (~60 % of the
critical path) and the greedy (~25 %), spread evenly over both threads, and the final greedy's
~0.6 ms beyond R3's draw. Tried and dropped (figures in the module docstring): a growth step
making room for its nodes before drawing them, software prefetch in the greedy, the greedy's
helpers inlined, its marginal coverages in int32, and the cross-fit's coverage counts on the
calling thread.

New levers for facebook against SUBSIM (issue #8), 2026-12-07 00:36-01:30 UTC, the machine
busy throughout (load average 4-7: other engineers' test suites and benchmarks; pynetim took
7.4 s on facebook, 63 s wall for 15 s CPU on enron), so the wall times below are inflated
and only the side-by-side ratios and the CPU times mean much. ``python
benchmarks/influence.py --runs 3 --compare /tmp/imm7_old/imm.py`` ("before": the committed
module, ``git show HEAD:src/dialogo/influence/imm.py``; runs interleaved), 01:19-01:30 UTC,
load 5.7 at the start, 4.8 at the end::

  graph     wall s cpu s  RR sets ns/RR   spread %best | pynetim s  cpu | ×pynetim wall/cpu | ×C++
  nethept    0.239 0.128   586528   225    962.6 99.8% |   3.91  1.70 |  16.3×/ 13.3× | 6.0×/3.2×
    before   0.265 0.137   621248   223    961.7 99.7% |              |  14.7×/ 12.4× | 6.6×/3.4×
  facebook   0.060 0.037    71052   520   1214.2 99.3% |   7.41  3.94 | 123.9×/106.6× | 10.0×/6.2×
    before   0.065 0.041    82306   501   1214.2 99.3% |              | 114.9×/ 96.7× | 10.8×/6.8×
  wikivote   0.080 0.030   227084   134    668.6 99.3% |   4.40  1.26 |  55.0×/ 42.7× | 7.3×/2.7×
    before   0.112 0.028   224226   115    670.0 99.6% |              |  39.3×/ 45.0× | 10.2×/2.6×
  enron      0.148 0.051    43656  1098  11723.6 99.1% |  63.28 15.06 | 428.1×/293.0× | 9.9×/3.4×
    before   0.141 0.043    43656  1039  11723.6 99.1% |              | 448.8×/352.3× | 9.4×/2.9×
  netphy     0.504 0.295   699584   428   1405.0 99.7% |  34.14 19.32 |  67.7×/ 65.4× | 6.3×/3.7×
    before   0.528 0.309   699584   443   1405.0 99.7% |              |  64.7×/ 62.6× | 6.6×/3.9×

(An earlier run of the same comparison, 01:07-01:17 UTC, load 6.6 → 6.5, with a persistent
helper thread that was then dropped, see 3: facebook 0.046 s wall / 0.040 s CPU against
0.065 / 0.044, 71,052 against 82,306 RR sets; enron, the same RR sets, 0.059 / 0.034
against 0.087 / 0.039 — there the new row was faster, here slower: at this load the order
and the moment decide such differences, not the code.) On this machine today nothing
reaches the goal's 5× of SUBSIM's 0.006 s on facebook, in wall or CPU time, before or
after; the lead's idle run at 00:35 UTC (load 0.9) had the committed module at 0.032 s wall,
0.057 s CPU. What changed, lever by lever:

1. Interleaved draws: tried and dropped (the module docstring has the figures). Two or four
   RR sets built at once, node by node in turn, each lane with its own queue, stamps and
   generator stream, finished sets copied to the flat pool in the order they finish: on
   facebook (40,000 RR sets per call, thread CPU, median of 15 calls interleaved with the
   committed sampler) two lanes cost 300 against 303 ns per RR set, four 335 against 337;
   keeping the lanes' state in arrays to write the loop body once cost 318 against 277, and
   handing arrays to an inlined per-lane step made numba count references inside the loop
   (1,450 against 303 ns). The draw is bound by its unpredictable K = 0 / 1 / ≥ 2 branch, whose
   mispredictions throw away the other lanes' work as well.
2. RR sets drawn past the need: kept. After a certified round the pools grew by
   ``1.1 · (resolution / tolerance)²``, at least 1.25×, which assumes the slowest decay of the
   resolution (``1/√θ``); facebook's falls as ``θ^-0.7`` between its rounds at 7,424 and 29,696
   RR sets per pool, where it is 0.0032-0.0034 against the tolerance's 0.003, so it grew
   1.25-1.43× and stopped at 37,000-42,000. The growth now follows the decay measured since
   the round before (``(resolution / tolerance)^(1/α)``, ``α`` clamped to [0.5, 1], at least
   1.1×: ``_growth`` in the module), facebook stops at 33,000-36,000. Spreads over seeds 0-4
   (cynetdiff, 10,000 cascades, % of the best known; RR sets of all pools), committed →
   new::

     graph     RR sets (median of 5)   worst of 5 runs   each run (new)
     nethept   621,248 → 586,528       99.54 → 99.62 %   99.78 99.76 99.98 99.88 99.62
     facebook   82,306 →  73,751       99.28 → 99.28 %   99.30 99.28 99.50 99.29 99.45
     wikivote  229,513 → 227,084       99.56 → 99.35 %   99.35 99.46 99.74 99.58 99.77
     enron      43,656 →  43,656       99.06 → 99.06 %   (the same RR sets and seeds)
     netphy    699,584 → 699,584       99.03 → 99.03 %   99.71 99.78 99.81 99.68 99.03

   Netphy's worst run (seed 4) is certified first at a resolution under the tolerance, so
   the growth never applies to it; its seeds 2 and 3 drew 769,544 and 754,188 RR sets instead
   of 874,480. Facebook −10 % RR sets, CPU −10 % in the table above (0.041 → 0.037 s);
   alone, ``--runs 5 --graphs facebook`` at 01:33-01:35 UTC (load 4.5 → 5.5): 0.048 s wall,
   0.043 s CPU, 73,751 RR sets against 0.059, 0.049 and 82,306 (wall −19 %, CPU −12 %),
   spread 99.3 % both, pynetim 7.37 s (155× ours in wall time); 7.9× SUBSIM's 0.006 s at
   this load (before: 9.8×).
   Tried and dropped: the same growth with every round evaluated (skipping rounds only from
   2× the tolerance, so that a skipped round would always have doubled): the decay fitted
   between close rounds is noisy, facebook's seed 0 landed at 27,798 RR sets per pool with a
   resolution of 0.0037 and drew 89,278 in all (median −3 %, one more round). Not tried: the
   final pick's precision counted for the ``2θ`` sets it is made on — the tolerance of 0.3 %
   was measured with that final pick already, so counting it is the same as a tolerance of
   ~0.42 % at ``θ``, and 0.33 % already gave netphy 98.97 %.
3. The serial tail: nothing kept. A helper thread kept for the process (restarted in forked
   children) instead of one per call: starting and joining one costs ~70 µs of a ~20 ms call,
   and 12 facebook calls each way, interleaved, took 64.3 against 66.0 ms wall (enron 101.8
   against 92.0) at load 5.5-6.0 — no difference to be seen, so the simpler per-call thread
   stays. numba's dispatch costs 1.5-2.6 µs per kernel call (a greedy's fixed cost, its
   arrays of ``n``, 22 µs), ~0.3 ms over a facebook call's 44 calls; the Python between the
   kernels, ~2 ms of CPU (cProfile, one thread), is about half the pools' buffer growth (numpy
   copies of ``inv`` and ``indptr`` as they double; not changed, not measurable at this
   load). The final greedy on R1 ∪ R2 (2.5 ms) against R3's draw (1.6 ms) on the other
   thread: drawing R3 earlier would only move its work into a phase where both threads are
   busy; the final greedy itself cannot be split between the threads without a per-seed
   barrier numba does not offer.

The lead's run on the idle machine afterwards (02:01-02:02 UTC, load 1.2 → 1.0, nothing else
running), ``--runs 5 --graphs facebook --compare`` the module before this change: 0.032 s
wall, 0.055 s CPU, 73,751 RR sets, 727 ns per RR set, against 0.033 s, 0.056 s, 82,306 and
681 ns; spread 99.3 % both; pynetim 5.34 s; 5.3× SUBSIM's 0.006 s (before 5.4×). At this
hour the machine ran pynetim 1.45× slower than at 22:45 yesterday (3.68 s), and facebook
stays above 5× SUBSIM: the 10 % fewer RR sets did not show in the idle wall time.

Rounds that cannot stop skipped (issue #8, facebook against SUBSIM), 2026-12-06 22:45-22:50
UTC, ``python benchmarks/influence.py --runs 3 --compare /tmp/imm6_old/imm.py`` ("before": the
committed module, ``git show HEAD:src/dialogo/influence/imm.py``; runs interleaved), load 0.7
at the start, 1.0 at the end. Same RR sets, seeds and spreads on all five (the skipped rounds'
sets are drawn from the seeds they would have had); the ratios wall/CPU::

  graph     wall s cpu s  RR sets ns/RR  spread %best | pynetim s | ×pynetim     | ×C++
  nethept    0.107 0.181   621248   264   961.7 99.7% |      1.61 |  15.0×/  8.9× | 2.7×/4.5×
    before   0.107 0.182   621248   284   961.7 99.7% |           |  15.1×/  8.9× | 2.7×/4.5×
  facebook   0.021 0.038    82306   457  1214.2 99.3% |      3.68 | 176.0×/ 97.5× | 3.5×/6.3×
    before   0.027 0.045    82306   551  1214.2 99.3% |           | 134.1×/ 82.0× | 4.6×/7.5×
  wikivote   0.013 0.024   224226   102   670.0 99.6% |      0.98 |  73.3×/ 41.4× | 1.2×/2.1×
    before   0.020 0.031   224226   127   670.0 99.6% |           |  49.0×/ 31.9× | 1.8×/2.8×
  enron      0.016 0.027    43656   608 11723.6 99.1% |      8.49 | 532.8×/319.8× | 1.1×/1.8×
    before   0.021 0.033    43656   747 11723.6 99.1% |           | 408.3×/260.4× | 1.4×/2.2×
  netphy     0.099 0.183   699584   301  1405.0 99.7% |      9.72 |  98.4×/ 53.0× | 1.2×/2.3×
    before   0.136 0.242   699584   358  1405.0 99.7% |           |  71.4×/ 40.2× | 1.7×/3.0×

Facebook: CPU −16 % (45 → 38 ms), wall −22 % (27 → 21 ms, 3.5× SUBSIM's 0.006 s); the goal of
−25 % CPU is not reached (its CPU alone is 6.3× SUBSIM's wall time). Nethept unchanged (4
rounds instead of 10, but the skipped ones, up to 36,544 sets per pool, were the cheap ones:
~11 ms of its 222), wikivote −23 %, enron −18 %, netphy −24 % in CPU. Nethept is 15.0×
pynetim in wall time but 8.9× in CPU. Spread ≥ 99 % of the best known on all five, as before.

Per-phase profile of facebook (seeds 0-8, the mean; each kernel call timed by a thread-CPU
wrapper; two threads; 22:45 UTC, load 0.6; two runs of each module, interleaved), old → new:
RR draws 25.2 → 23.7 ms (the same 85,003 RR sets, median), greedy over all rounds and the
final one 13.5 → 8.1 (17 → 9 calls), inverted index 3.6 → 3.2 (16 → 8 chunks), the
cross-fit's coverage counts 1.2 → 0.75 (now one pool per thread), Python between the kernels
3.0 → 2.1; CPU 46.6 → 38.0 ms (−18 %), wall 29.5 → 21.4 ms. Rounds (one thread, seed 0):
θ per pool 464, 928, 1,856, 3,712, 7,424, 14,848, 29,696, 37,721 before (resolution 0.058 …
0.0049, 0.0032, 0.0027), now 464, 7,424, 29,696, 37,721: the rounds at 928-3,712 and 14,848
had a resolution that, even falling as 1/θ, would still have been 1.35× the tolerance at the
next round, so they could not stop and doubled anyway. The round at 29,696 (resolution 0.0032,
just above 0.003) stays. Where the thread time went before (one thread, seed 0, 48.8 ms):
draws 26.2 ms, greedy 15.0 (6.7 of it in the rounds up to 14,848), index 3.9, coverage counts
1.2. Thread balance: the two pools' draws and greedies are even; serial are the final greedy
on R1 ∪ R2 (2.5 ms) against R3's draw (1.6 ms), ~1 ms idle, and the Python between kernels.
Tried and dropped: a jump by the resolution's own prediction (``f`` = resolution / tolerance,
×min(f, 8), or ×1.1·f^1.5 up to 4× or 8×) saved as many rounds but left the doubling lattice
and drew 5-15 % more RR sets on facebook (CPU no better), and its worst of 5 runs fell to
98.98 % of the best known at ×f^1.5 (a different landing, not a looser rule); the sampler
variants listed in the module docstring (no gain: 275-300 ns per facebook RR set either way).

The lead's run of the final tree (the resolution rule and the cheaper RR sets), 2026-12-06
20:10-20:13 UTC, ``python benchmarks/influence.py --runs 3``, load 1.2 → 1.3 (the localiser's
tests beside it); the ratios wall/CPU::

  graph     wall s cpu s  RR sets ns/RR  spread %best | pynetim s, cpu | ×pynetim    | ×C++
  nethept    0.152 0.152   621248   244   961.7 99.7% |   1.73   1.72 |  11.4×/ 11.3× |  3.8×/ 3.8×
  facebook   0.058 0.050    82306   605  1214.2 99.3% |   6.14   5.20 | 105.4×/104.8× |  9.7×/ 8.3×
  wikivote   0.028 0.027   224226   118   670.0 99.6% |   1.19   1.19 |  43.4×/ 44.0× |  2.5×/ 2.5×
  enron      0.060 0.055    43656  1253 11723.6 99.1% |  13.45  13.08 | 225.5×/238.0× |  4.0×/ 3.7×
  netphy     0.110 0.203   699584   298  1405.0 99.7% |   6.92   6.91 |  63.1×/ 34.1× |  1.4×/ 2.5×

Spread ≥ 99 % of the best known on all five, ≥ 10× pynetim on all five, within 5× of the faster
C++ tool on four; **facebook 9.7× SUBSIM's 0.006 s in wall time here** (8.3× in CPU: 50 ms), 4.3×
in run A below when its two threads got two cores. The C++ goal on facebook is not met as a
steady figure: its CPU time alone is 7-8× SUBSIM's wall time (SUBSIM's seeds reach 95.8 % of the
best known there; ours is 1.2-2.6× OPIM-C's 0.022 s).

Stopping rule on the cross-fit's resolution (issue #8, facebook): two runs of ``python
benchmarks/influence.py --runs 5``, A at 19:55-19:59 UTC (load average 1.7 → 2.8; tolerance
read from an environment variable set to 0.0030, the code otherwise as it stands) and B at
20:00-20:04 UTC (load 2.1 → 2.7; the code as it stands, ``TOLERANCE = 0.003``). Same RR sets
and seeds in both; "before" = the optimism rule in the 19:23 idle run below (``--runs 3``).
Wall and CPU seconds of ours; ×pyn: pynetim's wall / ours, ×C++: ours / the faster C++ tool::

  graph    RR sets  before   spread %best before | A: wall   cpu  ×pyn ×C++ | B: wall  ×pyn ×C++
  nethept   621248  621248    960.5  99.5   99.7 |   0.092 0.164  15.7  2.3 |   0.147   9.4  3.7
  facebook   82306  178226   1214.2  99.3   99.6 |   0.026 0.043 139.8  4.3 |   0.043  92.2  7.1
  wikivote  229513  277440    670.0  99.6   99.6 |   0.018 0.029  59.6  1.7 |   0.033  35.8  3.0
  enron      43656   43656  11723.6  99.1   99.1 |   0.025 0.037 337.2  1.6 |   0.040 223.1  2.7
  netphy    699584  874480   1395.4  99.0   99.8 |   0.256 0.224  84.9  3.2 |   0.171  44.3  2.1

(spread: the lowest of the 5 runs; netphy's 1395.4 is 99.03 %, enron's 99.06 %; netphy's
"before" is of 3 runs: with 5, the optimism rule gave the same 1395.4, see 16:48-17:05 below.)
Against issue #8's goals: spread ≥ 99 % of the best known on all five. In run A, where the two
threads got two cores, ≥ 10× pynetim and within 5× of the faster C++ tool in wall time on all
five, facebook 4.3× SUBSIM's 0.006 s (82,306 RR sets against 178,226: θ ≈ 38,700 per pool
instead of ~84,000). In run B the threads shared one core (wall ≈ CPU on four graphs): nethept
9.4× pynetim and facebook 7.1× SUBSIM — in CPU time facebook is 7.1× in both runs (43 ms).
The same command at tolerance 0.0033 (19:47-19:53, ``--no-pynetim``, load 4.4 → 3.5):
facebook 63,104 RR sets, 99.1 %; wikivote 99.1 %; netphy 1394.5 = 98.97 % — the rule at 0.003
is close to netphy's edge.

What the rule now is and why (``src/dialogo/influence/imm.py``, module docstring): it stopped on
the predicted optimism of the final seeds (0.8 %, one standard error included); it now stops
on the cross-fit's *resolution*, ``√D / 2`` over the seeds' coverage, ``D`` the RR sets covered
by exactly one of the two pools' greedy seed sets (the standard error the optimism statistic
already carried): a bound on the loss against the best seeds is a difference over such sets,
while the optimism also counts the error every near-optimal set shares, which cancels in the
loss. Measured per round (growth 1.25× after certification; final seeds = greedy on both
pools; spread by cynetdiff, 10,000 cascades, % of the best known; seeds 0-4 as in the
benchmark; ``old`` = the old rule's statistic, ``res`` = the resolution; 19:38-19:51 UTC)::

  facebook θ/pool  worst-best %   res            old
              23,200  98.54-99.13  0.0037-0.0042  0.015-0.023
              36,250  99.03-99.47  0.0027-0.0032  0.011-0.017
              45,313  99.04-99.59  0.0025-0.0028  0.009-0.016
              70,803  99.50-99.73  0.0018-0.0021  0.007-0.011
  netphy     164,608  98.84-99.53  0.0043-0.0056  0.013-0.019   (seeds 0, 1, 3: first certified)
             205,760  99.25-99.52  0.0036-0.0042  0.011-0.014
             329,216  99.03-99.83  0.0029-0.0031  0.008-0.009   (seeds 2, 4: first certified)
             411,520  99.15-99.92  0.0024-0.0027  0.007

Facebook is at 99 % from ~36,000 RR sets per pool; netphy must go past 164,608 (98.84 %). The
old statistic is 4-5× the resolution on facebook and 3× on netphy, so one tolerance of the old
kind cannot stop facebook near 40,000 without stopping netphy at 164,608 (facebook's worst
run needs ~1.6 % at 45,313, which stops netphy's seed 0 at 164,608); the resolution separates
the two by that ~1.5×. Netphy's seed 4 is certified at
329,216 with resolution 0.0029 and 99.03 %: the old rule stopped it there too (its 1395.4 is in
the 16:48-17:05 run below), so the rule is no closer to netphy's edge than before, but no further
either. Not tried for lack of time: the other three graphs round by round (only their
benchmark rows above), and a slower schedule (the resolution falls faster than ``1/√θ`` as the
two seed sets come to agree: 2.8× per 4× θ on the test graph, so ``(res / tol)²`` overshoots a
little). The optimism's run-to-run spread at equal θ (facebook at 45,313: 0.009-0.016) is
mostly real (the greedy's path), not measurement noise (its standard error is ~15 % of it).

Before that (the optimism rule), the same tree re-run by the lead with the machine nearly idle,
2026-12-06 19:23-19:25 UTC, ``python benchmarks/influence.py --runs 3`` (load 1.0 → 2.6; the
ratios wall/CPU)::

  graph     wall s cpu s  RR sets ns/RR  spread %best | pynetim s, cpu | ×pynetim    | ×C++
  nethept    0.080 0.147   621248   237   962.2 99.7% |   1.58   1.58 |  19.7×/ 10.7× |  2.0×/ 3.7×
  facebook   0.051 0.089   178226   506  1217.9 99.6% |   3.67   3.67 |  72.5×/ 41.4× |  8.4×/14.8×
  wikivote   0.025 0.040   277440   148   670.0 99.6% |   1.03   1.03 |  40.8×/ 25.8× |  2.3×/ 3.6×
  enron      0.020 0.032    43656   726 11723.6 99.1% |   7.93   7.93 | 388.0×/249.0× |  1.4×/ 2.1×
  netphy     0.267 0.275   874480   307  1405.9 99.8% |  10.55   8.09 |  39.5×/ 29.4× |  3.3×/ 3.4×

Against issue #8's goals in this run: spread ≥ 99 % of the best known on all five (99.1-99.8 %);
≥ 10× pynetim on all five (nethept 19.7×, was 9.5× at 17:10 on the idle machine); within 5× of
the faster C++ tool in wall time on four (nethept 2.0×, wikivote 2.3×, enron 1.4×, netphy 3.3×)
but **not on facebook: 8.4× SUBSIM's 0.006 s** (2.3× OPIM-C's 0.022 s). SUBSIM's seeds there
reach 1,172 (95.8 % of the best known); ours 1,217.9 needs ~50,000-70,000 RR sets at least, and
the stopping rule draws 178,226 (the floor curves of the earlier runs, below): the rule is the
lever left.
(Netphy's wall is near its CPU in this run: the two threads met the end of the run's load.)

Cheaper RR sets, 2026-12-06 19:04-19:10 UTC, ``python benchmarks/influence.py --runs 3
--compare /tmp/imm5_old/src/dialogo/influence/imm.py`` ("before": the committed module, ``git
archive HEAD | tar -x -C /tmp/imm5_old``, its runs interleaved with ours). The machine was not
idle (load average 2.5 at the start, 3.6 at the end: other engineers' tests), so wall times are
inflated where the two threads found one core (nethept: wall above CPU); the lead re-runs the
whole table on the idle machine. Same seeds, same RR sets and seed sets as before (the sampler
draws exactly what it drew: checked set by set on the five graphs and on synthetic ones), so
the spreads are unchanged; only the time is::

  graph     wall s cpu s  RR sets ns/RR %best | pynetim s   cpu | ×pyn wall/cpu  | ×C++ wall/cpu
  nethept    0.276 0.186   621248   285 99.7% |      2.35  1.72 |   8.5×/  9.3×  |  6.9×/ 4.6×
    before   0.554 0.382   621248   554 99.7% |                 |   4.2×/  4.5×  | 13.9×/ 9.6×
  facebook   0.083 0.083   178226   536 99.6% |      3.95  3.94 |  47.7×/ 47.6×  | 13.8×/13.8×
    before   0.204 0.197   178226  1162 99.6% |                 |  19.3×/ 20.0×  | 34.0×/32.9×
  wikivote   0.039 0.039   277440   153 99.6% |      1.64  1.44 |  41.5×/ 36.9×  |  3.6×/ 3.5×
    before   0.072 0.075   277440   288 99.6% |                 |  22.6×/ 19.3×  |  6.6×/ 6.8×
  enron      0.112 0.053    43656  1236 99.1% |     19.94 10.25 | 177.9×/193.7×  |  7.5×/ 3.5×
    before   0.164 0.079    43656  1779 99.1% |                 | 121.6×/129.9×  | 10.9×/ 5.3×
  netphy     0.128 0.233   874480   280 99.8% |      7.15  7.14 |  55.8×/ 30.6×  |  1.6×/ 2.9×
    before   0.265 0.446   874480   503 99.8% |                 |  27.0×/ 16.0×  |  3.3×/ 5.6×

CPU time −51 % nethept, −58 % facebook, −48 % wikivote, −33 % enron, −48 % netphy. Nethept
alone, the same command with ``--graphs nethept``: at 18:39 UTC (load 2.5, ``--runs 3``, the
sampler of point 1 alone) 0.135 s wall / 0.236 s CPU against pynetim's 2.02 s: 14.9× (before
0.266 s, 7.6×); at 19:12 UTC (load 2.8, ``--runs 5``, the two threads sharing one core: wall
0.240 ≈ CPU 0.218 s) pynetim took 1.84 s: 7.7× (before 0.503 s, 3.6×); at 19:18 UTC (load
1.9, ``--graphs nethept facebook --runs 5``) 0.202 s wall / 0.222 s CPU, pynetim 1.76 s: 8.7×
(before 0.268 s / 0.358 s, 6.5×), facebook 0.098 s, 50.7× (before 23.8×). So on nethept the
10× holds when the two threads get two cores and not when they share one: pynetim is
single-threaded, ours is 8-9× pynetim in CPU.

What changed (``src/dialogo/influence/imm.py``):

1. The RR sampler (lever 1), 2.2-2.7× cheaper per set, the same draws. Kernel alone, 200,000
   sets, thread CPU, interleaved with the committed kernel (18:38 UTC, load 2.3): nethept 88.7
   -> 39.6 ms (3.70 nodes per set), facebook 182.2 -> 70.7 ms (8.47), wikivote 31.9 -> 11.8 ms
   (1.75), netphy 85.4 -> 44.2 ms (3.94). The cause: the committed sampler grew its buffer node
   by node (``nodes, size = _take(...)`` returned the array from every visit), and numba
   reference-counts an array reassigned in a loop. Now the sampler writes sets while the buffer
   has room for ``n`` more nodes (no RR set is larger) and doubles it in between, in an outer
   kernel: no growth check, no reassigned array in the inner loops. The visited marks were
   already a generation counter (never cleared); the queue is the output itself. The binomial
   inversion's head is precomputed per node (``P(K = 0)``, ``P(K ≤ 1)``, ``P(K = 1)``,
   ``q / (1 - q)``, computed as the recurrence would, so the draws are the same): K = 0 or 1,
   nearly every visit under weighted cascade, costs one division; 0-10 % more (facebook most).
   ``error_model="numpy"`` (no zero-division checks) gained nothing measurable and was dropped.
2. Fixed costs (lever 2). Python between the kernels is ~1 ms per call (wikivote, facebook,
   enron with ``NUMBA_NUM_THREADS=1``: wall − kernel time 1.0-1.4 ms); a helper thread was
   started per parallel step (~0.1 ms each, ~20 per call): now one per call of ``imm``, ~20 µs
   per hand-off. The per-node table (``_subset_table``) took 2 ms in numpy on enron, 0.46 ms
   compiled. ``_Pool()`` 3 µs, a kernel dispatch 3 µs, ``_no_pool`` 3 µs; greedy on 1,000 sets
   (facebook, k = 50) 0.23 ms. Nothing else outside the kernels is worth a millisecond.
3. Both cores (lever 1). Pools now grow on two threads from 2,048 new sets each (was 16,384):
   on enron θ stops near 25,000, so every round ran on one thread before. The two threads are
   balanced by construction (equal pools, each indexing its own; the two greedy runs), and so
   is the last step: the final greedy (main thread) and R3's θ/8 sets (helper) took 11 and
   10 ms on nethept, 7.2 and 7.2 ms on facebook (19:14 UTC, loaded). Two threads drawing
   300,000 nethept sets each took 53-56 ms wall (44-48 ms CPU per thread) when one thread alone
   took 50-54 ms (19:04 UTC, the quietest minute of the afternoon): ~1.9× the throughput.
4. The inverted index in chunks: each growth indexes only its new sets (counting sort, written
   alongside their nodes) and the old chunks stay; greedy and the cross-fit's coverage counts
   walk a node's lists chunk by chunk. Index CPU per run (phases measured apart, loaded
   machine): nethept 34 -> 19 ms, netphy 39 -> 24 ms, facebook 12 -> 10 ms. While the rows
   (``n + 1`` each) would outweigh the pool's entries the index is rebuilt as one chunk, so
   memory stays bounded.
5. The stopping rule (lever 3) is unchanged: the RR-set counts above are the committed rule's.
   Thread CPU per kernel now, nethept (5 runs, load 3.7): drawing RR sets 65 %, greedy 17 %,
   index 10 %, coverage counts 1 %.

Goals of issue #8 after this change, in this run: spread ≥ 99 % of the best known on all five
(unchanged); ≥ 10× pynetim in wall time on facebook, wikivote, enron, netphy; nethept 14.9× when
the machine let both threads run (18:39), 7.7-8.5× when it did not; within 5× of the faster C++
tool in wall time on wikivote (3.6×) and netphy (1.6×), in CPU time also on nethept (4.6×) and
enron (3.5×); facebook is 13.8× (SUBSIM's 0.006 s; its floor, 50,000-70,000 RR sets at ~0.5 µs
of CPU each, greedy and checks included, is ~5× SUBSIM's time).

Previous stop: on the idle machine, this tree (committed), 2026-12-06 17:10-17:14 UTC, ``python
benchmarks/influence.py --runs 3`` (load average 1.5 at the start, 1.0 at the end); wall
seconds first (the C++ figures are wall), CPU beside them::

    graph     ours s  cpu s  RR sets  %best | pynetim s | speed-up (wall/cpu) | vs C++ (wall/cpu)
    nethept    0.246  0.419  621,248  99.7% |      2.35 |      9.5x /   5.6x  |     6.2x / 10.5x
    facebook   0.191  0.269  178,226  99.6% |      5.49 |     28.8x /  20.4x  |    31.8x / 44.8x
    wikivote   0.068  0.097  277,440  99.6% |      2.05 |     30.2x /  21.1x  |     6.2x /  8.8x
    enron      0.067  0.072   43,656  99.1% |     14.74 |    218.9x / 205.6x  |     4.5x /  4.8x
    netphy     0.310  0.538  874,480  99.8% |     13.94 |     44.9x /  25.9x  |     3.9x /  6.7x

Against the last stop's idle run (same machine, load 0.5-2.1): nethept 0.304 -> 0.246 s wall
(8.0x -> 9.5x pynetim), netphy 0.410 -> 0.310 s (5.1x -> 3.9x C++), enron 3.3x -> 4.5x C++ (0.050
-> 0.067 s: noise at this scale), facebook and wikivote unchanged within noise. Goals on the
idle machine, wall: spread >= 99 % of the best known holds on all five; >= 10x pynetim holds on
four, nethept 9.5x; within 5x of the faster C++ tool holds on enron and netphy, not on
nethept (6.2x), wikivote (6.2x) or facebook (31.8x).

Final run, this tree against the committed module, 2026-12-06 16:48-17:05 UTC, ``python
benchmarks/influence.py --runs 5 --compare /tmp/imm_old/src/dialogo/influence/imm.py`` (``git
archive HEAD | tar -x -C /tmp/imm_old``; "before" rows: its runs interleaved with ours). The
machine was never quiet this afternoon: load average 13.1 at the start, 1.8 at the
end (2 cores shared with ~8 engineers), so wall time is inflated 2-4× and the CPU column is
the one to compare; ratios are side by side in the same run. Spread: the *lowest* of the 5
runs' seed sets (cynetdiff, 10,000 cascades); RR sets: median, all pools; ns/RR: CPU per RR
set, greedy and checks included; ×pyn: pynetim / ours (wall, cpu); ×C++: ours / the faster of
SUBSIM and OPIM-C as quoted in ../shared/data/README.md (wall, cpu)::

  graph     wall s cpu s RR sets ns/RR  spread %best |pyn. wall   cpu |×pyn wall/cpu |×C++ wall/cpu
  nethept    1.587 0.362  621248   591   962.2  99.7 |     9.12  3.28 |  5.7×/ 9.1×|  39.7×/ 9.0×
    before   1.925 0.552  657792   709   960.5  99.5 |                |  4.7×/ 5.9×|  48.1×/13.8×
  facebook   1.474 0.313  157760  1945  1216.6  99.5 |    48.36 14.29 | 32.8×/45.7×| 245.6×/52.1×
    before   2.138 0.435  201290  2140  1216.6  99.5 |                | 22.6×/32.8×| 356.3×/72.6×
  wikivote   0.167 0.080  276754   313   670.0  99.6 |     2.96  1.67 | 17.7×/20.9×|  15.2×/ 7.2×
    before   0.244 0.119  312127   361   670.0  99.6 |                | 12.1×/14.0×|  22.2×/10.8×
  enron      0.228 0.087   43656  1815 11723.6  99.1 |    34.13 15.42 |149.6×/177.9×|  15.2×/ 5.8×
    before   0.267 0.102   46224  1868 11723.6  99.1 |                |128.0×/151.2×|  17.8×/ 6.8×
  netphy     0.304 0.522  699584   702  1395.4  99.0 |    12.12 12.09 | 39.8×/23.2×|   3.8×/ 6.5×
    before   0.488 0.754  925920   856  1397.1  99.2 |                | 24.8×/16.0×|   6.1×/ 9.4×

In the quietest window found (17:05-17:07 UTC, load average 0.9 at the start, 3.2 at the end),
the same command with ``--graphs nethept wikivote``: nethept 0.471 s wall / 0.441 s CPU
(before 0.533 / 0.540), pynetim 2.19 s: 4.7× (before 4.1×), 11.8× the C++ wall time;
wikivote 0.073 / 0.066 (before 0.090 / 0.094), pynetim 1.44 s: 19.7×, 6.6× the C++ wall time.
Spreads as above (same seeds). Nethept's wall time was about its CPU time in that window (the
two threads did not overlap; not investigated).

What changed (same run, "before" = committed module):

1. RR sets actually needed (lever 1). Greedy seeds on N RR sets of one pool (``rr_sets`` +
   ``greedy_cover``), spread by cynetdiff (10,000 cascades), % of the best known, the *lowest*
   of 5 seeds (2026-12-06 15:53-16:28 UTC, loaded machine; enron's run was stopped after
   12,500 for time)::

       N          12.5k   25k    50k    100k   200k   400k   800k   1.6M
       nethept      -      -    94.53  97.44  98.97  99.61  99.77  100.03
       facebook     -    97.96  99.03  99.32  99.54    -      -      -
       wikivote     -      -    98.21  98.98  99.54  99.71    -      -
       enron      98.25    -      -      -      -      -      -      -
       netphy       -      -    92.95  96.27  98.32  99.12  99.27  99.72

   The committed rule's final greedy sees 2θ ≈ 585k (nethept), 179k (facebook), 261k
   (wikivote), 658k (netphy) sets: 2.3×, ~3×, ~2× and 1.6× the floor (N where the worst of 5
   reaches 99 %). Enron stops at the first certified round (≈ 41k) either way. A rule that
   stopped at half the round's optimism (tolerance 1.5 % on the final seeds' predicted
   optimism) gave 98.5-99.0 % worst-of-5 (RR-set estimate on an independent pool of 2 M);
   1 % gave ≥ 99.0 % everywhere with that estimate but, in a full run of this script
   (16:28-16:50 UTC, load 13), netphy's worst run was 1394.5 = 98.97 % (wikivote 99.03 %,
   nethept 99.5 %, facebook 99.3 %, enron 99.1 %) at 700k, 621k, 210k, 130k and 44k RR sets.
   Netphy's curve is flat (99.12 % at 400k, 99.27 % at 800k for the worst seed) and one
   tolerance has to serve every graph, so the default is 0.8 % of the final seeds' predicted
   optimism — about the committed rule's stopping point (1.6 % of the round's). The rule's
   statistic is now about the seeds returned (chosen on 2θ sets, optimism predicted as half the
   round's, the 1/θ law checked by ``tests/influence``), but the RR sets drawn stay 1.5-3× the
   worst-of-5 floor on four graphs: what the optimism says about the loss differs by graph
   (netphy loses more at the same relative optimism), and no statistic tried here tells them
   apart.
2. Greedy and checks (lever 2). Each pool keeps its inverted index (node → RR sets) and extends
   it as it grows (old lists copied, only new sets counting-sorted; ``_index_extend``); the
   final greedy runs over both pools' indexes as they are (no join, no rebuild); the cross-fit's
   coverage counts walk the seeds' lists (``_cover_pair``: cost = the seeds' degrees, not a pass
   over the pools). The second greedy per round stays (the cross-fit needs it) but costs a
   heap and the covered sets only. R3, the independent pool that certifies the final seeds, is
   θ/8 (was θ/4): the certificate (ratio ≥ 1 - 1/e - ε) passes with far fewer sets. Thread CPU
   time per kernel on nethept (5 runs, loaded machine): drawing RR sets 81 %, greedy 9 %,
   index extension 6 %, coverage counts < 1 % (before: RR 69 %, greedy with index rebuild
   18 %, coverage passes 8 %, join 1 %).
3. Both cores (lever 3): already so — the two pools grow on two threads, each extending its
   own index; the two greedy runs of a round likewise; the final greedy runs beside R3's
   growth. One ``_none_taken`` per call instead of one per pool.
4. pynetim (lever 4): run once per graph, ε = 0.1, ℓ = 1, ``random_seed=1``, the same way on
   every graph (``pynetim_imm``). On nethept its time is mostly Python work and follows the
   load: 2.44 s wall on the idle machine (14:49 UTC), 9.29 and 9.12 s wall (CPU 2.32 and 3.28 s) in
   this afternoon's two loaded runs; the README quotes 1.35 s.

Goals of issue #8, honestly: spread ≥ 99 % of the best known — holds for the
worst of 5 runs on every graph, thinly on netphy (1395.4 = 99.03 %) and enron (99.06 %);
the committed module had 99.2 % on netphy with 32 % more RR sets. ≥ 10× faster than pynetim's
IMM — holds on facebook, wikivote, enron and netphy; not on nethept (5.7× wall, 9.1× CPU here,
before 4.7× / 5.9×; 4.7× wall in the quiet window, where pynetim took 2.19 s).
Within 5× of the faster C++ tool — not met in CPU time on any graph (closest: enron 5.8×,
netphy 6.5×, wikivote 7.2×); in wall time netphy's 3.8× came at the quiet end of the run
(load ≈ 2), the other graphs ran at load 10-13 (wikivote 6.6× in the quiet window). Facebook
(52× CPU) is out of reach at 99 %: the floor above is ≈ 50k-70k RR sets at ≈ 2 µs CPU each
against SUBSIM's 0.006 s for 96 %. Gains of this change, same run: CPU −34 % nethept, −28 %
facebook, −33 % wikivote, −15 % enron, −31 % netphy; RR sets −6 % to −24 %, CPU per RR set
−3 % to −18 %.
Left to do: a stopping statistic whose link to the loss transfers between graphs (the RR-set
floor above is 1.5-3× below what the rule draws on four graphs), and cheaper RR sets (81 % of
the time).
"""

from __future__ import annotations

import argparse
import array
import dataclasses
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dialogo.influence.graph import InfluenceGraph, load_edge_list
from dialogo.influence.imm import SeedSelection, imm, monte_carlo_spread

ROOT = Path(__file__).resolve().parents[1]
GRAPHS = ROOT.parent / "shared" / "data" / "graphs"
# From ../shared/data/README.md: (best spread known, SUBSIM s, OPIM-C s, pynetim s as quoted).
QUOTED = {
    "nethept": (965, 0.11, 0.04, 1.35),
    "facebook": (1223, 0.006, 0.022, 5.2),
    "wikivote": (673, 0.011, 0.014, 0.81),
    "enron": (11835, 0.015, 0.038, 17.5),
    "netphy": (1409, 0.14, 0.08, 13.7),
}


def cynetdiff_spread(graph: InfluenceGraph, seeds: list[int], runs: int) -> float:
    from cynetdiff.models import IndependentCascadeModel

    model = IndependentCascadeModel(
        array.array("I", graph.out_indptr.astype(np.uint32).tolist()),
        array.array("I", graph.out_dst.astype(np.uint32).tolist()),
        activation_probs=array.array("f", graph.out_p.astype(np.float32).tolist()),
        rng=np.random.default_rng(7),
    )
    model.set_seeds(seeds)
    return float(model.compute_marginal_gains(seeds, [], runs)[0])


def load_module(path: Path) -> object:
    """Another version of ``dialogo/influence/imm.py`` (e.g. from ``git archive``), for a
    before/after comparison in the same run."""
    spec = importlib.util.spec_from_file_location("imm_compared", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["imm_compared"] = module
    spec.loader.exec_module(module)
    return module


@dataclasses.dataclass
class Timing:
    """``runs`` runs of one implementation (seeds 0, 1, …): every run's selection, median wall
    and CPU seconds, median RR sets, and CPU nanoseconds per RR set over all runs."""

    selections: list[SeedSelection]
    wall: float
    cpu: float
    rr_sets: float
    ns_per_set: float


def timed_imm(
    versions: list[Callable[..., SeedSelection]], graph: InfluenceGraph, k: int, runs: int
) -> list[Timing]:
    """One warm-up run of each version (it compiles or loads the numba kernels), then ``runs``
    runs of each, interleaved so that they share the machine's load."""
    for run_imm in versions:
        run_imm(graph, k, epsilon=0.1, seed=1000)
    walls: list[list[float]] = [[] for _ in versions]
    cpus: list[list[float]] = [[] for _ in versions]
    sets: list[list[int]] = [[] for _ in versions]
    chosen: list[list[SeedSelection]] = [[] for _ in versions]
    for run in range(runs):
        for index, run_imm in enumerate(versions):
            started, cpu_started = time.perf_counter(), time.process_time()
            selection = run_imm(graph, k, epsilon=0.1, seed=run)
            walls[index].append(time.perf_counter() - started)
            cpus[index].append(time.process_time() - cpu_started)
            sets[index].append(selection.rr_sets)
            chosen[index].append(selection)
    return [
        Timing(
            chosen[i],
            statistics.median(walls[i]),
            statistics.median(cpus[i]),
            statistics.median(sets[i]),
            1e9 * sum(cpus[i]) / sum(sets[i]),
        )
        for i in range(len(versions))
    ]


def pynetim_imm(graph: InfluenceGraph, k: int) -> tuple[list[int], float, float]:
    from pynetim.algorithms.ris import IMMAlgorithm
    from pynetim.graph import IMGraph

    src, dst, p = graph.arcs()
    edges = list(zip(src.tolist(), dst.tolist(), strict=True))
    im_graph = IMGraph(edges, weights=p.tolist(), directed=True, renumber=False)
    started, cpu_started = time.perf_counter(), time.process_time()
    seeds = IMMAlgorithm(im_graph, model="IC", epsilon=0.1, l=1, random_seed=1).run(k)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return sorted(int(s) for s in seeds), elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", nargs="*", default=list(QUOTED))
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--simulations", type=int, default=10_000)
    parser.add_argument("--no-pynetim", action="store_true", help="skip the baseline")
    parser.add_argument(
        "--compare",
        type=Path,
        help="another imm.py (e.g. the committed one) timed the same way, on a row of its own",
    )
    args = parser.parse_args()
    if not GRAPHS.is_dir():
        raise SystemExit(f"graphs not found at {GRAPHS}")
    compared: Any = None if args.compare is None else load_module(args.compare)
    header = (
        f"{'graph':9} {'nodes':>7} {'arcs':>8} | {'ours s':>7} {'cpu s':>6} {'RR sets':>8} "
        f"{'ns/RR':>5} {'spread':>8} {'own MC':>8} {'%best':>6} | {'pynetim s':>9} {'cpu s':>6} "
        f"{'spread':>8} {'%best':>6} | {'speed-up':>8} {'cpu':>6} {'vs C++':>7} {'cpu':>6}"
    )
    print(f"load average at the start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(header)
    print("-" * len(header))
    for name in args.graphs:
        best, subsim, opimc, _quoted = QUOTED[name]
        graph = load_edge_list(GRAPHS / f"{name}.txt.gz")
        versions = [imm] if compared is None else [imm, compared.imm]
        timings = timed_imm(versions, graph, args.k, args.runs)
        rows = list(zip([name, "  before"][: len(timings)], timings, strict=True))
        if args.no_pynetim:
            base_t, base_cpu, base_spread = float("nan"), float("nan"), float("nan")
        else:
            base_seeds, base_t, base_cpu = pynetim_imm(graph, args.k)
            base_spread = cynetdiff_spread(graph, base_seeds, args.simulations)
        fastest_cpp = min(subsim, opimc)
        for label, timing in rows:
            ours_t, ours_cpu = timing.wall, timing.cpu
            # Every run's seeds are scored: the row shows the lowest spread of the runs.
            spreads = [
                cynetdiff_spread(graph, chosen.seeds.tolist(), args.simulations)
                for chosen in timing.selections
            ]
            worst = timing.selections[int(np.argmin(spreads))].seeds.tolist()
            ours = min(spreads)
            own = monte_carlo_spread(graph, worst, runs=args.simulations, seed=3).mean
            print(
                f"{label:9} {graph.n:>7} {graph.m:>8} | {ours_t:>7.3f} {ours_cpu:>6.3f} "
                f"{timing.rr_sets:>8.0f} {timing.ns_per_set:>5.0f} {ours:>8.1f} {own:>8.1f} "
                f"{100 * ours / best:>5.1f}% | "
                f"{base_t:>9.2f} {base_cpu:>6.2f} {base_spread:>8.1f} "
                f"{100 * base_spread / best:>5.1f}% | {base_t / ours_t:>7.1f}× "
                f"{base_cpu / ours_cpu:>5.1f}× {ours_t / fastest_cpp:>6.1f}× "
                f"{ours_cpu / fastest_cpp:>5.1f}×",
                flush=True,
            )
    print(
        "\nspread: cynetdiff, mean of "
        f"{args.simulations:,} cascades, the lowest over the runs' seed sets; own MC: "
        "dialogo.influence.imm.monte_carlo_spread on those seeds; "
        "%best: of the best spread known; speed-up: pynetim time / ours (wall, then cpu); vs "
        "C++: ours / the faster of SUBSIM and OPIM-C as quoted in ../shared/data/README.md "
        "(wall, then cpu); cpu s: process time, all threads (less sensitive than wall time to a "
        "loaded machine); RR sets: all pools, median of the runs; ns/RR: CPU time per RR set "
        f"over the runs; load average now: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
