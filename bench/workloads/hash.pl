# Perl hash building: a hash of a million small records (each a hash with a string and an
# array), a sorted walk over the keys, deletion of two thirds of them and an inverted index.
# Prints one checksum line.
#   perl hash.pl [N]
use strict;
use warnings;

my $n = shift // 150000;
my %h;
for my $i (1 .. $n) {
  $h{"key$i"} = { id => $i, s => "v" x ($i % 40), l => [ $i, $i * 2 ] };
}
my $sum = 0;
for my $k (sort keys %h) { $sum += length($h{$k}{s}) + $h{$k}{l}[1]; }
for my $i (1 .. $n) { delete $h{"key$i"} if $i % 3; }
my %inv;
while (my ($k, $v) = each %h) { $inv{ $v->{id} } = $k; }
my @words = map { join(",", $_, reverse split //, $_) } keys %inv;
print "$sum ", scalar(keys %h), " ", scalar(@words), "\n";
