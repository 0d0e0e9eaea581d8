#!/usr/bin/perl
# aemp2-peer.pl: a minimal AEMP peer speaking the AnyEvent::MP 2.x transport,
# for interop tests, built only on Debian's modules: AnyEvent::Handle
# (libanyevent-perl), JSON::XS (libjson-xs-perl), CBOR::XS (libcbor-xs-perl),
# Digest::SHA3 (libdigest-sha3-perl) and Digest::HMAC (libdigest-hmac-perl).
#
# Handshake as a 2.02 node does it (shared/spec/aemp2.md sections 1 and 2):
# greeting "aemp;1;ID;hmac_sha3_512,cleartext;FRAMINGS;...;mproto=1;gproto=1",
# auth hmac_sha3_512 = lowercase hex HMAC-SHA3-512 (block size 72 bytes, key =
# the secret) of "L1\nL2\nR1\nR2\n" (own lines first), and it VERIFIES the
# peer's token (hmac_sha3_512, or cleartext = hex of the secret): a mismatch
# prints "DOWN authentication failure" and closes the connection.
# Framing: it sends the first of the peer's framings that is in --framing
# (default cbor,json) and reads the framing the peer's auth line names, with
# AnyEvent::Handle's cbor / json read and write types (CBOR::XS / JSON::XS
# with default options, as AnyEvent::MP 2.02).
#
# It serves two ports with the semantics of the aemp-go node, like
# aemp-peer.pl:
#   echo: [REPLYPORT, ARGS...]        -> sends [REPLYPORT's name, ARGS...] back
#   sink: ["report", REPLYPORT]       -> ["count", N, BYTES, CPUSEC] to REPLYPORT
#         ["reset"]                   -> zeroes N and BYTES
#         anything else               -> N += 1, BYTES += length of scalar args
#
# usage:
#   aemp2-peer.pl --nodeid ID --secret S (--listen HOST:PORT | --connect HOST:PORT)
#                 [--framing cbor,json] [--send JSON]...
#                 [--sink-count N --sink-size B] [--quit-after SECONDS]
# --send messages are given as JSON and sent in the negotiated framing.
# Every message received for a port other than echo/sink (and the node port
# "") is printed to stdout as one line "RECV <json>" (canonical JSON::XS, byte
# strings as Latin-1 characters). "READY <host:port>" is printed once
# listening, "UP <peer nodeid> <peer framing>" once a connection is
# authenticated (the framing the peer sends), "SEND <framing>" right after
# it (the framing this peer sends), "DOWN <reason>" when it ends.
use strict;
use warnings;
use Getopt::Long;
use AnyEvent;
use AnyEvent::Handle;
use AnyEvent::Socket;
use JSON::XS;
use CBOR::XS;
use Digest::SHA3 ();
use Digest::HMAC ();
use MIME::Base64;

my ($nodeid, $secret, $listen, $connect) = ("perl2peer", "", undef, undef);
my @send;
my ($sink_count, $sink_size, $quit_after, $framing_list) = (0, 20, 0, "cbor,json");
GetOptions(
   "nodeid=s" => \$nodeid, "secret=s" => \$secret,
   "listen=s" => \$listen, "connect=s" => \$connect,
   "send=s" => \@send, "sink-count=i" => \$sink_count, "sink-size=i" => \$sink_size,
   "batch=i" => \my $batch, "quit-after=f" => \$quit_after, "framing=s" => \$framing_list,
) or die "bad arguments\n";
my @framings = grep { /^(cbor|json)$/ } split /,/, $framing_list;
@framings or die "--framing: cbor and/or json\n";
$listen or $connect or die "need --listen or --connect\n";
length $secret or die "need --secret\n";
$| = 1;

my $json = JSON::XS->new->utf8->canonical;
my ($count, $bytes) = (0, 0);
my $done = AE::cv;
my $quit_timer = $quit_after ? AE::timer($quit_after, 0, sub { $done->send }) : undef;

# HMAC-SHA3-512 as RFC 2104 with the SHA3-512 block size (rate) of 72 bytes;
# Digest::HMAC's default of 64 would be wrong, and Digest::SHA3->new without
# an argument is SHA3-224, so the functional form with sha3_512 is used.
sub hmac_sha3_512_hex {
   my ($key, $data) = @_;
   Digest::HMAC::hmac_hex($data, $key, \&Digest::SHA3::sha3_512, 72)
}

sub portname { my ($id) = @_; $id = "" unless defined $id; $id =~ s/^[^#]*#//; $id }

sub handle_message {
   my ($hdl, $msg, $sframing) = @_;
   return unless ref $msg eq "ARRAY";
   my ($port, @args) = @$msg;
   $port = "" unless defined $port;
   if ($port eq "echo") {
      my $reply = shift @args;
      $hdl->push_write($sframing => [portname($reply), @args]) if defined $reply;
   } elsif ($port eq "sink") {
      if (@args && defined $args[0] && !ref $args[0] && $args[0] eq "report") {
         my @t = times;
         $hdl->push_write($sframing => [portname($args[1]), "count", $count, $bytes, $t[0] + $t[1]]);
      } elsif (@args && defined $args[0] && !ref $args[0] && $args[0] eq "reset") {
         ($count, $bytes) = (0, 0);
      } else {
         $count++;
         $bytes += length $_ for grep { defined && !ref } @args;
      }
   } elsif ($port ne "") {
      print "RECV ", $json->encode($msg), "\n";
   }
}

sub session {
   my ($fh, $host, $port) = @_;
   my $hdl; $hdl = AnyEvent::Handle->new(
      fh => $fh,
      on_error => sub { print "DOWN $_[2]\n"; $_[0]->destroy; $done->send if $connect },
      on_eof => sub { print "DOWN eof\n"; $hdl->destroy; $done->send if $connect },
   );
   my $nonce = encode_base64(join("", map chr(int rand 256), 1 .. 66), "");
   my $l1 = "aemp;1;$nodeid;hmac_sha3_512,cleartext;" . join(",", @framings)
          . ";provider=aemp2-peer.pl;peeraddr=$host:$port;mproto=1;gproto=1";
   my $l2 = $nonce;
   $hdl->push_write("$l1\012$l2\012");
   my $fail = sub { print "DOWN $_[0]\n"; $hdl->destroy; $done->send if $connect };
   $hdl->push_read(line => sub {
      my $r1 = $_[1];
      my ($proto, $version, $rnode, $auths, $rframings) = split /;/, $r1;
      return $fail->("bad greeting") unless defined $version and $proto eq "aemp" and $version == 1;
      my %ours = map { $_ => 1 } @framings;
      my ($sframing) = grep { $ours{$_} } split /,/, $rframings // "";
      return $fail->("$rframings: no common framing method supported") unless $sframing;
      my %rauth = map { $_ => 1 } split /,/, $auths // "";
      return $fail->("$auths: no common auth type supported") unless $rauth{hmac_sha3_512};
      $hdl->push_read(line => sub {
         my $r2 = $_[1];
         my $token = hmac_sha3_512_hex($secret, "$l1\012$l2\012$r1\012$r2\012");
         $hdl->push_write("hmac_sha3_512;$token;$sframing\012");
         $hdl->push_read(line => sub {
            my ($method, $rtoken, $rframing) = split /;/, $_[1];
            $method //= ""; $rtoken //= ""; $rframing //= "";
            my $want =
                 $method eq "hmac_sha3_512" ? hmac_sha3_512_hex($secret, "$r1\012$r2\012$l1\012$l2\012")
               : $method eq "cleartext"     ? unpack("H*", $secret)
               : undef;
            return $fail->("$method: fatal, selected unsupported rcv auth method") unless defined $want;
            return $fail->("authentication failure") unless $rtoken eq $want;
            return $fail->("$rframing: unusable remote framing") unless $rframing =~ /^(cbor|json)$/;
            print "UP $rnode $rframing\n";
            print "SEND $sframing\n";
            $hdl->push_write($sframing => $json->decode($_)) for @send;
            if ($sink_count) {
               my $payload = "x" x $sink_size;
               $hdl->push_write($sframing => ["sink", $payload]) for 1 .. $sink_count;
            }
            my $reader; $reader = sub {
               handle_message($_[0], $_[1], $sframing);
               $_[0]->push_read($rframing => $reader);
            };
            $hdl->push_read($rframing => $reader);
         });
      });
   });
   $hdl;
}

my %handles;
if ($listen) {
   my ($h, $p) = parse_hostport $listen;
   tcp_server $h, $p, sub {
      my ($fh, $host, $port) = @_;
      my $hdl = session($fh, $host, $port);
      $handles{$hdl} = $hdl;
   }, sub { print "READY $_[1]:$_[2]\n"; 1024 };
} else {
   my ($h, $p) = parse_hostport $connect;
   tcp_connect $h, $p, sub {
      my ($fh) = @_ or do { print "DOWN connect failed: $!\n"; return $done->send };
      my $hdl = session($fh, $h, $p);
      $handles{$hdl} = $hdl;
   };
}
$done->recv;
