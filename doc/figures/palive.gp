# P(alive) matrix: BG/NBD probability that a customer is still active, by
# frequency and recency, for customers aged T = 38.86 weeks (palive.dat).
set terminal svg size 720,520 font "sans,13" background rgb "white"
set output "palive.svg"
set title "P(alive), BG/NBD, customers aged 38.86 weeks"
set xlabel "recency: weeks from the first to the last purchase"
set ylabel "frequency: repeat purchases"
set cblabel "P(alive)"
set xrange [0:38.857142857142854]
set yrange [-0.5:20.5]
set cbrange [0:1]
set tics out
set rmargin 14
set palette defined (0 "#440154", 0.25 "#3b528b", 0.5 "#21918c", 0.75 "#5ec962", 1 "#fde725")
plot "palive.dat" using 1:2:3 with image pixels notitle
