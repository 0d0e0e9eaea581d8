#!/usr/bin/perl
# aemp-send.pl: the Perl load generator, the counterpart of `aemp bench` for
# the sink and ping modes, built only on Debian's AnyEvent::Handle, JSON::XS
# and Storable (core); CBOR::XS for --framing cbor. Like aemp-peer.pl it speaks the "simple handshake for
# non-Perl nodes": it authenticates itself with cleartext (the hex secret) and
# does not check the other side's token.
#
# modes (the same messages and RESULT keys as `aemp bench`):
#   sink  N messages ["sink", PAYLOAD] in batches of --batch, each batch
#         followed by ["sink", "report", REPLY]; at most --outstanding batches
#         unacknowledged; ends when the target's report shows all N delivered.
#         Every message is encoded on its own (what a Perl node's snd costs)
#         and, with --writes message (the default), handed to
#         AnyEvent::Handle by its own push_write, which writes it at once
#         when the socket takes it: what an AnyEvent::MP node does with its
#         default configuration (autocork off). --writes batch hands a batch
#         to AnyEvent::Handle as ONE string, so it goes out in few large
#         writes (what autocork can give at best) and the receiver, not this
#         sender's syscalls, is the limit. --encode once encodes the message
#         a single time and repeats the bytes (least sender CPU).
#   ping  ["echo", REPLY, "pong", SEQ, PAYLOAD] with --inflight round trips in
#         flight: round trips per second and latency percentiles.
#
# usage:
#   aemp-send.pl --connect HOST:PORT --secret S [--nodeid ID] [--mode sink|ping]
#                [--count N] [--size BYTES] [--batch N] [--outstanding K]
#                [--inflight K] [--framing json|storable|cbor] [--encode each|once]
#                [--writes message|batch]
#                [--timeout SECONDS] [--quiet]
# Progress goes to stderr about once a second; the result is one line
# "RESULT key=value ..." on stdout. Exit status as `aemp bench`: 0 success,
# 1 cannot connect or authenticate, 2 usage error, 3 fewer messages arrived
# than were sent, 4 timeout.
use strict;
use warnings;
use Getopt::Long;
use AnyEvent;
use AnyEvent::Handle;
use AnyEvent::Socket;
use JSON::XS;
use Storable ();
use MIME::Base64;
use Time::HiRes ();
use POSIX ();

my %o = (nodeid => "", secret => $ENV{AEMP_SECRET} // "", mode => "sink", count => 100000,
   size => 20, batch => 1000, outstanding => 4, inflight => 1, framing => "json",
   encode => "each", writes => "message", timeout => 60, quiet => 0);
GetOptions(\%o, "connect=s", "secret=s", "nodeid=s", "mode=s", "count=i", "size=i", "batch=i",
   "outstanding=i", "inflight=i", "framing=s", "encode=s", "writes=s", "timeout=f", "quiet!")
   or exit 2;
sub usage { print STDERR "aemp-send.pl: $_[0]\n"; exit 2 }
$o{connect} or usage "--connect is required";
length $o{secret} or usage "--secret (or \$AEMP_SECRET) is required";
$o{mode} =~ /^(sink|ping)$/ or usage "--mode must be sink or ping";
$o{framing} =~ /^(json|storable|cbor)$/ or usage "--framing must be json, storable or cbor";
$o{encode} =~ /^(each|once)$/ or usage "--encode must be each or once";
$o{writes} =~ /^(message|batch)$/ or usage "--writes must be message or batch";
$o{count} > 0 && $o{size} >= 0 && $o{batch} > 0 && $o{outstanding} > 0 && $o{inflight} > 0
   or usage "counts must be positive";
$o{nodeid} ||= "perlsend-" . join "", map { (0 .. 9, "a" .. "f")[rand 16] } 1 .. 12;
$| = 1;

my $json = JSON::XS->new->utf8;
my $cbor;
if ($o{framing} eq "cbor") {
   require CBOR::XS;
   $cbor = CBOR::XS->new;
}
# the framings as AnyEvent::Handle's write types produce them
my %encoder = (
   json     => sub { $json->encode($_[0]) },
   storable => sub { pack "w/a*", Storable::nfreeze($_[0]) },
   cbor     => sub { $cbor->encode($_[0]) },
);
my $enc = $encoder{$o{framing}};
my $reply = "$o{nodeid}#rep";
my $payload = "x" x $o{size};

my $exit = 0;
my $done = AE::cv;
sub finish { $exit = $_[0]; print STDERR "aemp-send.pl: $_[1]\n" if defined $_[1]; $done->send }
my $timeout = AE::timer($o{timeout}, 0, sub { finish(4, "timed out") });
sub now { Time::HiRes::clock_gettime(Time::HiRes::CLOCK_MONOTONIC()) }
sub cpu { my @t = times; $t[0] + $t[1] }

my ($hdl, %link, $on_message);
my ($host, $port) = parse_hostport $o{connect} or usage "bad --connect $o{connect}";

tcp_connect $host, $port, sub {
   my ($fh) = @_ or return finish(1, "cannot connect to $o{connect}: $!");
   $hdl = AnyEvent::Handle->new(
      fh => $fh, no_delay => 1,
      on_error => sub { finish($exit || 1, "connection: $_[2]") },
      on_eof   => sub { finish($exit || 1, "connection: end of file") },
   );
   my $nonce = encode_base64(join("", map chr(int rand 256), 1 .. 66), "");
   $hdl->push_write("aemp;1;$o{nodeid};hmac_md6_64_256,cleartext;$o{framing};provider=aemp-send.pl\012$nonce\012");
   $hdl->push_read(line => sub {
      my ($proto, $version, $rnode, $auths, $framings) = split /;/, $_[1];
      return finish(1, "bad greeting $_[1]") unless ($proto // "") eq "aemp" and ($version // 0) == 1;
      # we send the first of the peer's framings that we speak
      my ($sframing) = grep { $_ eq $o{framing} } split /,/, $framings // "";
      return finish(1, "peer does not accept $o{framing} (it offers $framings)") unless $sframing;
      $hdl->push_read(line => sub {
         $hdl->push_write("cleartext;" . unpack("H*", $o{secret}) . ";$sframing\012");
         $hdl->push_read(line => sub {
            my ($method, $token, $rframing) = split /;/, $_[1];
            return finish(1, "authentication failed: $_[1]") unless defined $rframing && $encoder{$rframing};
            %link = (node => $rnode, framing => $sframing, peer_framing => $rframing, auth => "cleartext");
            my $reader; $reader = sub {
               $_[0]->push_read($rframing => $reader);
               $on_message->($_[1]);
            };
            $hdl->push_read($rframing => $reader);
            start();
         });
      });
   });
};

# send writes one message (its own encoding) to the peer's port.
sub send_msg { $hdl->push_write($enc->([@_])) }

my @result;
sub add { push @result, [@_] }
sub link_fields { add(mode => $o{mode}); add($_ => $link{$_}) for qw(framing peer_framing auth) }

my ($last_progress, $t_start) = (0, 0);
sub progress {
   my ($done, $total, $what) = @_;
   return if $o{quiet};
   my $t = now();
   return if $t - $last_progress < 1;
   $last_progress = $t;
   my $el = $t - $t_start;
   my $rate = $el > 0 ? $done / $el : 0;
   printf STDERR "%s: %d/%d  %.0f/s  elapsed %.1fs  eta %s\n", $what, $done, $total, $rate, $el,
      $rate > 0 ? sprintf("%.1fs", ($total - $done) / $rate) : "?";
}

sub start { $o{mode} eq "sink" ? start_sink() : start_ping() }

sub start_sink {
   my ($base, $cpu0, $acked, $last_cpu, $sent, $outstanding) = (undef, 0, 0, 0, 0, 0);
   my $once = $o{encode} eq "once" ? $enc->(["sink", $payload]) : undef;
   my $report = $enc->(["sink", "report", $reply]);
   my $wire = length $enc->(["sink", $payload]);
   my $sender_cpu0;
   my $fill = sub {
      while ($outstanding < $o{outstanding} && $sent < $o{count}) {
         my $k = $o{count} - $sent;
         $k = $o{batch} if $k > $o{batch};
         if ($o{writes} eq "batch") { # one string per batch: one push_write
            my $batch = defined $once ? $once x $k : join "", map { $enc->(["sink", $payload]) } 1 .. $k;
            $hdl->push_write($batch . $report);
         } else { # one push_write per message, as AnyEvent::MP's snd
            if (defined $once) { $hdl->push_write($once) for 1 .. $k }
            else { $hdl->push_write($enc->(["sink", $payload])) for 1 .. $k }
            $hdl->push_write($report);
         }
         $sent += $k;
         $outstanding++;
      }
   };
   $on_message = sub {
      my ($port, $what, $count, $bytes, $cpu) = @{ $_[0] };
      return unless defined $what && $what eq "count";
      if (!defined $base) { # the baseline report
         ($base, $cpu0) = ($count, $cpu);
         $sender_cpu0 = cpu();
         $t_start = now();
         $fill->();
         return;
      }
      $outstanding--;
      ($acked, $last_cpu) = ($count - $base, $cpu);
      progress($acked, $o{count}, "sink");
      if ($acked >= $o{count}) {
         my $el = now() - $t_start;
         link_fields();
         my $rate = $acked / $el;
         add(size => $o{size}); add(count => $o{count}); add(received => $acked);
         add(elapsed => sprintf "%.6f", $el);
         add(msgs_per_s => sprintf "%.0f", $rate);
         add(payload_MB_per_s => sprintf "%.3f", $rate * $o{size} / 1e6);
         add(wire_bytes_per_msg => $wire);
         add(wire_MB_per_s => sprintf "%.3f", $rate * $wire / 1e6);
         add(batch => $o{batch}); add(outstanding => $o{outstanding});
         my $ncpu = $last_cpu - $cpu0;
         add(node_cpu_s => sprintf "%.3f", $ncpu);
         add(msgs_per_node_cpu_s => $ncpu > 0 ? sprintf "%.0f", $acked / $ncpu : 0);
         add(sender_cpu_s => sprintf "%.3f", cpu() - $sender_cpu0);
         add(encode => $o{encode}); add(writes => $o{writes});
         return finish(0);
      }
      $fill->();
   };
   $hdl->push_write($report);
}

sub start_ping {
   my (%sent_at, @rtt, $seq, $inflight);
   ($seq, $inflight) = (0, 0);
   my $confirmed = 0;
   my $sender_cpu0;
   my $fire = sub {
      while ($inflight < $o{inflight} && $seq < $o{count}) {
         $sent_at{$seq} = now();
         send_msg("echo", $reply, "pong", $seq, $payload);
         $seq++;
         $inflight++;
      }
   };
   $on_message = sub {
      my ($port, $what, $s) = @{ $_[0] };
      return unless defined $what;
      if (!$confirmed) { # the link check: one echo round trip
         return unless $what eq "hello";
         $confirmed = 1;
         $sender_cpu0 = cpu();
         $t_start = now();
         return $fire->();
      }
      return unless $what eq "pong" and defined $s;
      my $t0 = delete $sent_at{$s};
      return unless defined $t0;
      push @rtt, (now() - $t0) * 1e6;
      $inflight--;
      if (@rtt >= $o{count}) {
         my $el = now() - $t_start;
         @rtt = sort { $a <=> $b } @rtt;
         my $sum = 0; $sum += $_ for @rtt;
         my $pct = sub { my $i = POSIX::ceil($_[0] * @rtt) - 1; $i = 0 if $i < 0; $i = $#rtt if $i > $#rtt; $rtt[$i] };
         link_fields();
         add(size => $o{size}); add(count => $o{count}); add(received => scalar @rtt);
         add(elapsed => sprintf "%.6f", $el);
         add(roundtrips_per_s => sprintf "%.0f", @rtt / $el);
         add(avg_rtt_us => sprintf "%.1f", $sum / @rtt);
         add(p50_us => sprintf "%.1f", $pct->(0.5)); add(p90_us => sprintf "%.1f", $pct->(0.9));
         add(p99_us => sprintf "%.1f", $pct->(0.99)); add(p999_us => sprintf "%.1f", $pct->(0.999));
         add(max_us => sprintf "%.1f", $rtt[-1]);
         add(inflight => $o{inflight});
         add(sender_cpu_s => sprintf "%.3f", cpu() - $sender_cpu0);
         return finish(0);
      }
      progress(scalar @rtt, $o{count}, "ping");
      $fire->();
   };
   send_msg("echo", $reply, "hello", 1);
}

$done->recv;
if (@result) {
   print "RESULT", (map { " $_->[0]=" . (length $_->[1] ? $_->[1] : "-") } @result), "\n";
}
exit $exit;
