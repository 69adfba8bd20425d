set terminal svg size 900,500 dynamic font 'sans,11'
set output '/work/main/bench/results/rto.svg'
set title 'Failover RTO: freeze of the primary -> first accepted write (each point a trial)'
set ylabel 'seconds'
set yrange [0:*]
set xrange [0.5:8.5]
set grid ytics
set xtics ("baton\nW=5s" 1, "patroni\nW=5s" 2, "sentinel\nW=5s" 3, "baton\nW=10s" 4, "patroni\nW=10s" 5, "sentinel\nW=10s" 6, "patroni\ndefaults" 7, "sentinel\ndefaults" 8)
set key off
set style fill transparent solid 0.3
set boxwidth 0.5
plot '/work/main/bench/results/rto.dat' using 1:3 with points pt 7 ps 0.8 lc rgb '#1f77b4', \
     '/work/main/bench/results/rto.dat' using 1:3 smooth unique with points pt 2 ps 2 lc rgb '#d62728'
