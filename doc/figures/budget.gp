# Marketing budget: incremental value bought by a budget, and the value net of
# it, with the spend that maximises the net value (budget.dat; block 1 the
# curves, block 2 the optimum).
set terminal svg size 720,450 font "sans,13" background rgb "white"
set output "budget.svg"
stats "budget.dat" index 1 using 1 nooutput name "SPEND"
stats "budget.dat" index 1 using 3 nooutput name "NET"
best_spend = SPEND_max
best_net = NET_max
set xlabel "total budget ($)"
set ylabel "expected incremental value over a year ($)"
set key bottom right
set grid
set xrange [0:10000]
set yrange [0:*]
set format y "%.0f"
set arrow from best_spend, graph 0 to best_spend, graph 1 nohead dashtype 2 linecolor rgb "gray40"
set label sprintf("best spend $%.0f: net value $%.0f", best_spend, best_net) \
    at best_spend, graph 0.95 offset 1,0 textcolor rgb "gray30"
plot "budget.dat" index 0 using 1:2 with lines linewidth 2 linecolor rgb "black" \
         title "incremental value", \
     "" index 0 using 1:3 with lines linewidth 2 linecolor rgb "#1f77b4" \
         title "net of the budget", \
     "" index 1 using 1:2 with points pointtype 7 pointsize 1.2 linecolor rgb "black" notitle, \
     "" index 1 using 1:3 with points pointtype 7 pointsize 1.2 linecolor rgb "#1f77b4" notitle
