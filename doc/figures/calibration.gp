# Calibration plot: mean holdout purchases, actual and expected, by calibration
# purchases (calibration.dat).
set terminal svg size 720,450 font "sans,13" background rgb "white"
set output "calibration.svg"
set xlabel "repeat purchases in the calibration period (1997-01 to 1997-09)"
set ylabel "mean purchases in the 39-week holdout"
set key top left
set grid
set xrange [-0.5:7.5]
set yrange [0:*]
plot "calibration.dat" using 1:5:xticlabels(2) with linespoints linewidth 2 pointtype 7 \
         linecolor rgb "black" title "actual", \
     "" using 1:4 with linespoints linewidth 2 pointtype 5 \
         linecolor rgb "#d62728" title "expected (BG/NBD)"
