-- clv 0.1.0 -> 0.2.0.  Run by ALTER EXTENSION clv UPDATE; CREATE EXTENSION clv
-- installs 0.1.0 and then this script.  0.1.0 is released and its script is
-- never edited again: every change to the SQL objects after it goes here.
\echo Use "ALTER EXTENSION clv UPDATE TO '0.2.0'" to load this file. \quit
