# Tracking plot: cumulative repeat purchases, actual and expected (tracking.dat).
set terminal svg size 720,450 font "sans,13" background rgb "white"
set output "tracking.svg"
set xlabel "week since 1997-01-01"
set ylabel "cumulative repeat purchases"
set key top left
set grid
set xrange [0:78]
set yrange [0:*]
set arrow from 39, graph 0 to 39, graph 1 nohead dashtype 2 linecolor rgb "gray40"
set label "end of calibration" at 39, graph 0.93 offset 1,0 textcolor rgb "gray30"
set label "holdout" at 58, graph 0.08 center textcolor rgb "gray30"
set label "calibration" at 19.5, graph 0.08 center textcolor rgb "gray30"
plot "tracking.dat" using 1:3 with lines linewidth 2 linecolor rgb "black" title "actual", \
     "" using 1:2 with lines linewidth 2 linecolor rgb "#d62728" title "expected (BG/NBD)"
