set terminal svg size 900,500 dynamic font 'sans,11'
set output 'bench/results/window-10s/rto.svg'
set title 'Failover RTO: freeze of the primary -> first accepted write (each point a trial)'
set ylabel 'seconds'
set yrange [0:*]
set xrange [0.5:3.5]
set grid ytics
set xtics ("baton W=10s" 1, "patroni W=10s" 2, "sentinel W=10s" 3)
set key off
set style fill transparent solid 0.3
set boxwidth 0.5
plot 'bench/results/window-10s/rto.dat' using 1:3 with points pt 7 ps 0.8 lc rgb '#1f77b4', \
     'bench/results/window-10s/rto.dat' using 1:3 smooth unique with points pt 2 ps 2 lc rgb '#d62728'
