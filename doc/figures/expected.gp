# Expected purchases matrix: BG/NBD expected purchases in the next 39 weeks, by
# frequency and recency, for customers aged T = 38.86 weeks (expected.dat).
set terminal svg size 720,520 font "sans,13" background rgb "white"
set output "expected.svg"
set title "Expected purchases in the next 39 weeks, BG/NBD, customers aged 38.86 weeks"
set xlabel "recency: weeks from the first to the last purchase"
set ylabel "frequency: repeat purchases"
set cblabel "expected purchases"
set xrange [0:38.857142857142854]
set yrange [-0.5:20.5]
set cbrange [0:*]
set tics out
set rmargin 14
set palette defined (0 "#440154", 0.25 "#3b528b", 0.5 "#21918c", 0.75 "#5ec962", 1 "#fde725")
plot "expected.dat" using 1:2:3 with image pixels notitle
