#!/usr/bin/perl
# aemp-peer.pl: a minimal AEMP peer for interop tests and baselines, built only
# on Debian's AnyEvent::Handle and JSON::XS. It speaks the "simple handshake for
# non-Perl nodes" of the AEMP document: it authenticates itself with cleartext
# (the hex secret) and does not check the other side's token (with
# --auth hmac_md6_64_256 it authenticates and checks as an AnyEvent::MP 1.30
# node does, with Digest::MD6 and Digest::HMAC_MD6, which Debian does not
# package: they must be installed, e.g. beside a real 1.30 node), and it reads and
# writes json framing (with --framing also storable and cbor, through
# AnyEvent::Handle's storable type, BER length + nfreeze, and its cbor type,
# CBOR::XS with default options, as AnyEvent::MP 1.x and 2.x use them).
# In the data phase it decodes every complete message in the read buffer at
# once (see bulk_reader), so as a benchmark receiver it costs the least a
# Perl node built on these modules can.
#
# It serves two ports with the semantics of the aemp-go node:
#   echo: [REPLYPORT, ARGS...]        -> sends [REPLYPORT's name, ARGS...] back
#   sink: ["report", REPLYPORT]       -> ["count", N, BYTES, CPUSEC] to REPLYPORT
#         ["reset"]                   -> zeroes N and BYTES
#         anything else               -> N += 1, BYTES += length of scalar args
#
# usage:
#   aemp-peer.pl --nodeid ID --secret S (--listen HOST:PORT | --connect HOST:PORT)
#                [--send JSON]... [--sink-count N --sink-size B --batch K] [--quit-after SECONDS]
#                [--framing LIST] [--auth cleartext|hmac_md6_64_256]
# --framing lists the framings offered, in preference order (default json);
# it sends the first of the peer's framings that is in LIST and reads what the
# peer's auth line announces.
# Every message received for a port other than echo/sink (node-port requests
# included) is printed to stdout as one line "RECV <json>". "READY <host:port>" is printed once listening,
# "UP <peer nodeid> <peer framing>" once a connection is authenticated.
use strict;
use warnings;
use Getopt::Long;
use AnyEvent;
use AnyEvent::Handle;
use AnyEvent::Socket;
use JSON::XS;
use MIME::Base64;
use Storable ();

my ($nodeid, $secret, $listen, $connect) = ("perlpeer", "", undef, undef);
my @send;
my ($sink_count, $sink_size, $batch, $quit_after, $framing_list, $auth) = (0, 20, 1000, 0, "json", "cleartext");
GetOptions(
   "nodeid=s" => \$nodeid, "secret=s" => \$secret,
   "listen=s" => \$listen, "connect=s" => \$connect,
   "send=s" => \@send, "sink-count=i" => \$sink_count, "sink-size=i" => \$sink_size,
   "batch=i" => \$batch, "quit-after=f" => \$quit_after, "framing=s" => \$framing_list,
   "auth=s" => \$auth,
) or die "bad arguments\n";
my $md6_key;
if ($auth eq "hmac_md6_64_256") {
   eval { require Digest::MD6; require Digest::HMAC_MD6; 1 }
      or die "--auth hmac_md6_64_256 needs Digest::MD6 and Digest::HMAC_MD6: $@";
   $md6_key = Digest::MD6::md6($secret);
} elsif ($auth ne "cleartext") {
   die "--auth: cleartext or hmac_md6_64_256\n";
}
my @framings = grep { /^(json|storable|cbor)$/ } split /,/, $framing_list;
@framings or die "--framing: json, storable and/or cbor\n";
$listen or $connect or die "need --listen or --connect\n";
$| = 1;

my $json = JSON::XS->new->utf8;
my ($count, $bytes) = (0, 0);
my $done = AE::cv;
my $quit_timer = $quit_after ? AE::timer($quit_after, 0, sub { $done->send }) : undef;

sub portname { my ($id) = @_; $id =~ s/^[^#]*#//; $id }

sub handle_message {
   my ($hdl, $msg, $sframing) = @_;
   my $port = $msg->[0];
   $port = "" unless defined $port;
   if ($port eq "sink") { # first: the benchmark's hot path, no copies
      my $a = $msg->[1];
      if (defined $a && !ref $a && $a eq "report") {
         my @t = times;
         $hdl->push_write($sframing => [portname($msg->[2]), "count", $count, $bytes, $t[0] + $t[1]]);
      } elsif (defined $a && !ref $a && $a eq "reset") {
         ($count, $bytes) = (0, 0);
      } else {
         $count++;
         for my $i (1 .. $#$msg) {
            my $v = $msg->[$i];
            $bytes += length $v if defined $v && !ref $v;
         }
      }
   } elsif ($port eq "echo") {
      my (undef, $reply, @args) = @$msg;
      $hdl->push_write($sframing => [portname($reply), @args]) if defined $reply;
   } else {
      print "RECV ", $json->encode($msg), "\n";
   }
}

# bulk_reader returns an on_read callback that decodes every complete
# message in the read buffer at once (JSON::XS incr_parse in list context,
# CBOR::XS incr_parse_multiple, storable BER length + thaw) and calls $cb
# with an array of them: per message no AnyEvent::Handle read request, the least a Perl
# receiver can pay. A malformed message closes the connection.
sub bulk_reader {
   my ($framing, $cb) = @_;
   my $bad = sub { print "DOWN bad message: $_[1]\n"; $_[0]->destroy };
   if ($framing eq "json") {
      my $dec = JSON::XS->new->utf8;
      return sub {
         my $data = $_[0]{rbuf}; $_[0]{rbuf} = "";
         my @msgs = eval { $dec->incr_parse($data) };
         return $bad->($_[0], $@) if $@;
         for (@msgs) { return $bad->($_[0], "not an array") unless ref eq "ARRAY" }
         $cb->(\@msgs);
      };
   }
   if ($framing eq "cbor") {
      require CBOR::XS;
      my $dec = CBOR::XS->new;
      return sub {
         my @msgs = eval { $dec->incr_parse_multiple($_[0]{rbuf}) };
         return $bad->($_[0], $@) if $@;
         for (@msgs) { return $bad->($_[0], "not an array") unless ref eq "ARRAY" }
         $cb->(\@msgs);
      };
   }
   return sub { # storable
      my $r = \$_[0]{rbuf};
      my ($off, @msgs) = (0);
      while ($off < length $$r) {
         my $len = eval { unpack "x$off w", $$r };
         last unless defined $len; # an incomplete length
         my $hl = length pack "w", $len;
         last if $off + $hl + $len > length $$r;
         my $msg = eval { Storable::thaw(substr $$r, $off + $hl, $len) };
         return $bad->($_[0], $@ || "not a storable message") unless ref $msg eq "ARRAY";
         $off += $hl + $len;
         push @msgs, $msg;
      }
      substr($$r, 0, $off, "") if $off;
      $cb->(\@msgs) if @msgs;
   };
}

my %handles; # the open connections

sub session {
   my ($fh, $host, $port) = @_;
   my $hdl; $hdl = AnyEvent::Handle->new(
      fh => $fh, no_delay => 1, keepalive => 1, # as AnyEvent::MP::Transport
      on_error => sub { print "DOWN $_[2]\n"; delete $handles{$_[0]}; $_[0]->destroy; $done->send if $connect },
      on_eof => sub { print "DOWN eof\n"; delete $handles{$hdl}; $hdl->destroy; $done->send if $connect },
   );
   my $nonce = encode_base64(join("", map chr(int rand 256), 1 .. 66), "");
   my $offer = join ",", @framings;
   my $lgreeting = "aemp;1;$nodeid;hmac_md6_64_256,cleartext;$offer;provider=aemp-peer.pl;peeraddr=$host:$port";
   $hdl->push_write("$lgreeting\012$nonce\012");
   $hdl->push_read(line => sub {
      my $rgreeting = $_[1];
      my ($proto, $version, $rnode, $auths, $framings) = split /;/, $rgreeting;
      return $hdl->destroy, print "DOWN bad greeting\n" unless $proto eq "aemp" and $version == 1;
      my %ours = map { $_ => 1 } @framings;
      my ($sframing) = grep { $ours{$_} } split /,/, $framings // "";
      return $hdl->destroy, print "DOWN no common framing\n" unless $sframing;
      $hdl->push_read(line => sub {
         my $rnonce = $_[1];
         if ($md6_key) {
            my $lauth = Digest::HMAC_MD6::hmac_md6_hex($md6_key, "$lgreeting\012$nonce\012$rgreeting\012$rnonce\012", 64, 256);
            $hdl->push_write("hmac_md6_64_256;$lauth;$sframing\012");
         } else {
            $hdl->push_write("cleartext;" . unpack("H*", $secret) . ";$sframing\012");
         }
         $hdl->push_read(line => sub {
            my ($method, $token, $rframing) = split /;/, $_[1];
            if ($md6_key) { # check the peer's token as a 1.30 node does
               my $want = $method eq "hmac_md6_64_256"
                  ? Digest::HMAC_MD6::hmac_md6_hex($md6_key, "$rgreeting\012$rnonce\012$lgreeting\012$nonce\012", 64, 256)
                  : $method eq "cleartext" ? unpack("H*", $secret) : undef;
               return $hdl->destroy, print "DOWN authentication failure\n" unless defined $want && defined $token && $token eq $want;
            }
            return $hdl->destroy, print "DOWN unusable remote framing\n" unless defined $rframing && $ours{$rframing};
            print "UP $rnode $rframing\n";
            $hdl->push_write($sframing => $json->decode($_)) for @send;
            if ($sink_count) {
               my $payload = "x" x $sink_size;
               $hdl->push_write($sframing => ["sink", $payload]) for 1 .. $sink_count;
            }
            $hdl->on_read(bulk_reader($rframing, sub {
               for my $m (@{ $_[0] }) {
                  # the sink's plain messages inline (no sub call per message)
                  if (@$m == 2 && defined $m->[0] && $m->[0] eq "sink" && defined $m->[1] && !ref $m->[1]
                        && $m->[1] ne "report" && $m->[1] ne "reset") {
                     $count++; $bytes += length $m->[1];
                  } else {
                     handle_message($hdl, $m, $sframing);
                  }
               }
            }));
         });
      });
   });
   $hdl;
}

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
