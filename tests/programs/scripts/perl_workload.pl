use strict; use warnings;
my %h; my @a;
my $x = 12345;
for my $i (1..200000) {
  $x = ($x * 1103515245 + 12345) % 2147483648;
  my $k = sprintf("key%07d-%x", $i, $x);
  $h{$k} = [$i, $x % 1000, "v" . ($x % 97)];
  push @a, $k if $i % 3 == 0;
}
my $n = 0; my %cnt;
for my $k (keys %h) {
  if ($k =~ /^key(\d+)-([0-9a-f]+)$/) { $n += length($2); $cnt{substr($2,0,1)}++ }
}
my @s = sort { $h{$a}[1] <=> $h{$b}[1] or $a cmp $b } @a;
my $j = join(",", map { sprintf("%s=%d", $_, $h{$_}[1]) } @s[0..9]);
my $str = join("", map { $h{$_}[2] } @s);
(my $t = $str) =~ s/v(\d)(\d)/w$2$1/g;
print scalar(keys %h), " $n ", scalar(@s), "\n$j\n", length($t), "\n";
print join(" ", map { "$_:$cnt{$_}" } sort keys %cnt), "\n";
delete $h{$_} for @a;
print scalar(keys %h), "\n";
