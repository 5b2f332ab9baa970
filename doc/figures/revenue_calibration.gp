# Calibration of the lifetime value: mean actual against mean predicted holdout
# revenue per bin of the prediction (revenue_calibration.dat).
set terminal svg size 720,450 font "sans,13" background rgb "white" noenhanced
set output "revenue_calibration.svg"
set xlabel "mean predicted holdout revenue per customer ($, bins of the prediction)"
set ylabel "mean actual holdout revenue ($)"
set key bottom right
set grid
set logscale xy
set xrange [3:300]
set yrange [3:300]
plot x with lines linewidth 1 linecolor rgb "gray60" title "perfect calibration", \
     "revenue_calibration.dat" using 3:4 with linespoints linewidth 2 pointtype 7 \
         linecolor rgb "#1f77b4" title "clv_calibration, 10 bins"
