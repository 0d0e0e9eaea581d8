#!/usr/bin/perl
# The oracle of the differential fuzz targets (fuzz/diff_*_test.go): Perl's
# own codecs, from Debian's packages, configured as AnyEvent::MP uses them
# (docs/framing.md section 6):
#
#   json      reads  JSON::XS->new->utf8, incr_parse, one text at a time
#             writes JSON::XS::encode_json
#   storable  reads  AnyEvent::Handle's storable type: BER length
#                    (unpack "w"), then Storable::thaw of that many bytes
#             writes pack "w/a*", Storable::nfreeze
#   cbor      reads  CBOR::XS->new, incr_parse, one item at a time (tags
#                    other than CBOR::XS's own become CBOR::XS::Tagged
#                    objects: see cbor_coder)
#             writes CBOR::XS::encode_cbor
#
# It serves requests on stdin and answers on stdout, one at a time, so
# that a fuzz iteration costs a pipe round trip instead of a process start.
#
# Request:  op (1 byte) framing (1 byte: j, s, c) length (4, big-endian) payload
# Response: status (1 byte) length (4, big-endian) payload
#
#   op V  version: status V, payload "perl ...; JSON::XS ...; ..."
#   op D  decode the payload as a byte stream: status D, payload a list of
#         'M' DUMP per message, then one end marker:
#           K          nothing left (json: only whitespace)
#         (json: before it, S LEN BYTES when JSON::XS dropped bytes other
#         than whitespace, as its incremental scanner does with control
#         characters that end the input)
#           P          an incomplete frame that is a valid beginning
#           Q LEN MSG  cbor: an incomplete frame that padding suggests is
#                      bad (not a proof: see cbor_prefix)
#           N DUMP     json: the rest is one complete non-array value that
#                      JSON::XS waits to see delimited (a number)
#           X LEN MSG  an error (the codec died, or the frame is not an
#                      array, as AnyEvent::MP's _inject (@$msg) needs)
#   op E  build the Perl value the payload describes (a RECIPE) and encode
#         it: status B, payload the bytes; or status X, payload the error
#
# DUMP, the value as Perl holds it (lengths and counts 4 bytes big-endian):
#   u                      undef
#   i INT64 / w UINT64     an integer (IV / UV), 8 bytes big-endian
#   n FLOAT64 LEN STR      a double (NV), its 8 bytes big-endian, and how
#                          Perl writes it as a string
#   s FLAG LEN BYTES       a string: FLAG 1 if Perl's UTF-8 flag is on, the
#                          internal bytes as they are (even malformed)
#   T / F                  a boolean object (JSON::PP::Boolean and the like)
#                          holding 1 / 0
#   e                      Types::Serialiser::error (CBOR undefined)
#   a COUNT DUMP...        an array reference
#   h COUNT (FLAG LEN KEY DUMP)...  a hash reference
#   o LEN CLASS DUMP       another blessed reference, then what it points to
#   r DUMP                 a reference to a scalar (or to a reference)
#   x LEN TYPE             a reference to something else (CODE, GLOB, ...)
#   c                      a reference back to a container being dumped
#   Z                      the dump grew beyond its limit (shared references)
# A scalar with Perl's string flag is a string even if it is also a number.
#
# RECIPE, what op E builds (same lengths):
#   u, i INT64, w UINT64, n FLOAT64, b LEN BYTES (a byte string),
#   t LEN UTF8 (a text string: UTF-8 decoded, flag on), c COUNT CP32...
#   (a text string of arbitrary code points: surrogates, above U+10FFFF),
#   d LEN BYTES (a string used as a number: flags string and number),
#   N LEN BYTES (the number Perl reads from the string), T / F
#   (Types::Serialiser true/false), y / z (Perl's !!1 / !!0),
#   a COUNT RECIPE..., h COUNT (RECIPE-key RECIPE-value)...
# The message is the array recipe at the top.
use strict;
use warnings;
no warnings;    # malformed and wide strings are what we are here for

use B                 ();
use JSON::XS          ();
use CBOR::XS          ();
use Storable          ();
use Types::Serialiser ();
use Scalar::Util      ();

binmode STDIN;
binmode STDOUT;

my $DUMP_LIMIT = 16 << 20;

sub read_exactly {
   my ($n) = @_;
   my $buf = "";
   while (length $buf < $n) {
      my $r = sysread STDIN, $buf, $n - length $buf, length $buf;
      die "oracle: read: $!\n" unless defined $r;
      exit 0 if $r == 0;
   }
   $buf
}

sub reply {
   my ($status, $payload) = @_;
   my $out = $status . pack ("N", length $payload) . $payload;
   while (length $out) {
      my $w = syswrite STDOUT, $out;
      die "oracle: write: $!\n" unless defined $w;
      substr $out, 0, $w, "";
   }
}

# --- dumping Perl values ------------------------------------------------

my %BOOL_CLASS = map { $_ => 1 } qw(JSON::PP::Boolean JSON::XS::Boolean Types::Serialiser::Boolean);

sub dump_scalar {
   my $copy = $_[0];    # a copy: immortals (PL_sv_yes) have no flags of their own
   return "u" unless defined $copy;
   my $f = B::svref_2object (\$copy)->FLAGS;
   if ($f & B::SVf_POK) {
      my $utf8 = utf8::is_utf8 ($copy) ? 1 : 0;
      utf8::encode ($copy) if $utf8;    # the internal bytes, as they are
      return "s" . chr ($utf8) . pack ("N", length $copy) . $copy;
   }
   if ($f & B::SVf_IOK) {
      return $f & B::SVf_IVisUV ? "w" . pack ("Q>", $copy) : "i" . pack ("q>", $copy);
   }
   if ($f & B::SVf_NOK) {
      my $s = "$copy";
      return "n" . pack ("d>", $copy) . pack ("N", length $s) . $s;
   }
   my $s = "$copy";
   "s" . chr (utf8::is_utf8 ($s) ? 1 : 0) . pack ("N", length do { utf8::encode ($s) if utf8::is_utf8 ($s); $s }) . $s
}

sub dump_value {
   my ($v, $open, $size) = @_;
   die "dump too large\n" if $$size > $DUMP_LIMIT;
   return dump_scalar ($v) unless ref $v;
   my $addr = Scalar::Util::refaddr ($v);
   return "c" if $open->{$addr};
   local $open->{$addr} = 1;
   my $class = Scalar::Util::blessed ($v);
   my $type  = Scalar::Util::reftype ($v);
   my $out;
   if (defined $class && $class eq "Types::Serialiser::Error") {
      $out = "e";
   } elsif (defined $class && $BOOL_CLASS{$class} && $type eq "SCALAR" && !ref $$v && defined $$v
            && ($$v eq "1" || $$v eq "0")) {
      $out = $$v ? "T" : "F";
   } elsif (defined $class) {
      my $inner = $type eq "ARRAY" ? dump_array ($v, $open, $size)
                : $type eq "HASH"  ? dump_hash ($v, $open, $size)
                : $type eq "SCALAR" || $type eq "REF" ? dump_value ($$v, $open, $size)
                : "x" . pack ("N", length $type) . $type;
      $out = "o" . pack ("N", length $class) . $class . $inner;
   } elsif ($type eq "ARRAY") {
      $out = dump_array ($v, $open, $size);
   } elsif ($type eq "HASH") {
      $out = dump_hash ($v, $open, $size);
   } elsif ($type eq "SCALAR" || $type eq "REF") {
      $out = "r" . dump_value ($$v, $open, $size);
   } else {
      $out = "x" . pack ("N", length $type) . $type;
   }
   $$size += length $out;
   $out
}

sub dump_array {
   my ($v, $open, $size) = @_;
   my $out = "a" . pack ("N", scalar @$v);
   $out .= dump_value ($_, $open, $size) for @$v;
   $out
}

sub dump_hash {
   my ($v, $open, $size) = @_;
   my @keys = keys %$v;
   my $out = "h" . pack ("N", scalar @keys);
   for my $k (@keys) {
      my $kb = $k;
      my $utf8 = utf8::is_utf8 ($kb) ? 1 : 0;
      utf8::encode ($kb) if $utf8;
      $out .= chr ($utf8) . pack ("N", length $kb) . $kb . dump_value ($v->{$k}, $open, $size);
   }
   $out
}

sub dump_message {
   my ($v) = @_;
   my $size = 0;
   my $d = eval { dump_value ($v, {}, \$size) };
   return $d if defined $d;
   return "Z" if $@ eq "dump too large\n";
   die $@;
}

sub err_item {
   my ($msg) = @_;
   $msg =~ s/ at \S+ line \d+\.?\n?\z//;
   "X" . pack ("N", length $msg) . $msg
}

# A message as AnyEvent::MP's _inject (@$msg) takes it: an array
# reference (blessed or not); anything else makes the node fail the frame.
sub message_item {
   my ($v) = @_;
   my $t = Scalar::Util::reftype ($v);
   return (undef, err_item ("not an ARRAY reference")) unless defined $t && $t eq "ARRAY";
   my $d = eval { dump_message ($v) };
   return (undef, err_item ($@)) unless defined $d;
   ("M" . $d, undef)
}

# --- decoding streams ---------------------------------------------------

my $json_nonref = JSON::XS->new->utf8->allow_nonref;
my @JSON_CONTINUATIONS = ("0", "00", "000", "0000", "n", "1", "rue", "ue", "e", "alse", "lse", "se", "ull", "ll", "l",
   "\x80", "\x80\x80", "\x80\x80\x80", "\xa0\x80", "\x90\x80\x80");

sub decode_json_stream {
   my ($in) = @_;
   my $c = JSON::XS->new->utf8;
   my $out = "";
   # A top-level non-array is a message here too; the caller compares it
   # with our ErrNotArray.
   # incr_text may only be read between texts: keep what follows the last
   # text extracted.
   # incr_parse gives undef both for "not complete" and for a null: a
   # text was taken if the parser is between texts again with less left.
   my $rest = $in;
   my $v = eval { $c->incr_parse ($in) };
   while (1) {
      return $out . err_item ($@) if $@;
      unless (defined $v) {
         my $now = eval { $c->incr_text };
         last unless defined $now && defined $rest && length $now < length $rest;
         my $taken = substr $rest, 0, length ($rest) - length $now;
         last unless $taken =~ /[^ \t\n\r]/;
         unless ($taken =~ /\A[ \t\n\r]*null\z/) {
            # the incremental scanner skips control characters as if
            # they were whitespace when nothing follows them
            $out .= "S" . pack ("N", length $taken) . $taken;
            last;
         }
      }
      my $d = eval { dump_message ($v) };
      return $out . err_item ($@) unless defined $d;
      $out .= "M" . $d;
      # after a top-level number JSON::XS may be in the middle already
      $rest = eval { $c->incr_text };
      $v = eval { $c->incr_parse };
   }
   return $out . "K" if defined $rest && $rest =~ /\A[ \t\n\r]*\z/;
   # JSON::XS waits for a text to end before it parses it: decide now
   # whether the rest is a valid beginning. It is if it decodes, or if it
   # or one of these continuations of a cut token (an escape, \u digits,
   # a literal, a number, a UTF-8 sequence) fails only at the end. No
   # continuation repairs an error before it.
   return $out . "P" unless defined $rest;
   $v = eval { $json_nonref->decode ($rest) };
   if ($@) {
      my $err = $@;
      for my $sfx ("", @JSON_CONTINUATIONS) {
         eval { $json_nonref->decode ($rest . $sfx) };
         return $out . "P" if !$@ || $@ =~ /\(end of string\)/;
      }
      return $out . err_item ("once complete: $err");
   }
   my $d = eval { dump_message ($v) };
   return $out . err_item ($@) unless defined $d;
   $out . "N" . $d
}

sub decode_storable_stream {
   my ($in) = @_;
   my $out = "";
   while (length $in) {
      my $len = eval { unpack "w", $in };
      return $out . "P" unless defined $len;
      my $format = length pack "w", $len;
      return $out . "P" if $format + $len > length $in;
      my $data = substr $in, $format, $len;
      substr $in, 0, $format + $len, "";
      my $v = eval { Storable::thaw ($data) };
      return $out . err_item ($@) if $@;
      return $out . err_item ("thaw returned undef") unless defined $v;
      my ($item, $err) = message_item ($v);
      return $out . $err if defined $err;
      $out .= $item;
   }
   $out . "K"
}

# cbor_prefix judges the bytes CBOR::XS waits for: K for a valid
# beginning, X and the error when it fails on them other than at their end,
# Q and an error when padding suggests they are bad. CBOR::XS checks as it
# goes, but not everything (it compares an array's count with the bytes
# there before it looks at the items), so a beginning may be bad without
# an error yet. Padding completes valid beginnings, except inside
# indefinite-length items (there it is no proof): if one padding decodes,
# the beginning is good; if the paddings that get anywhere all fail the
# same way (not counting tag filters' complaints about the padding), it is
# likely bad. (The offsets in CBOR::XS's messages are not where it failed.)
# AnyEvent::MP reads with CBOR::XS->new. One change: tags without a
# built-in meaning become CBOR::XS::Tagged objects instead of going
# through the default filter (bignums, dates, URIs). We refuse every tag
# but 55799 and Perl takes the frame either way, so only speed differs:
# nested bignum tags make Math::BigInt take seconds.
sub cbor_coder { CBOR::XS->new->filter (sub { () }) }

my @CBOR_FILL = ("\x00", "\x01", "\xf6", "\x40");

sub cbor_prefix {
   my ($in) = @_;
   eval { cbor_coder ()->decode ($in) };
   return ("K") unless $@;
   return ("X", $@) unless $@ =~ /unexpected end of CBOR data/;
   my %seen;
   for my $fill (@CBOR_FILL) {
      for my $pad (1 << 8, 1 << 12) {
         eval { cbor_coder ()->decode ($in . $fill x $pad) };
         return ("K") if !$@ || $@ =~ /garbage after CBOR object/;
         next if $@ =~ /unexpected end of CBOR data/;
         (my $e = $@) =~ s/, at offset \d+.*//s;
         last if $e =~ /date\/time|Math::Big|Time::Piece|URI|tag/i;
         $seen{$e}++;
         last;
      }
   }
   my @e = keys %seen;
   return @e == 1 ? ("Q", $e[0]) : ("K");
}

sub decode_cbor_stream {
   my ($in) = @_;
   my $c = cbor_coder ();
   my $out = "";
   while (length $in) {
      # incr_parse gives undef both for "not complete" and for a null: a
      # value was taken if the buffer got shorter.
      my $before = length $in;
      my $v = eval { $c->incr_parse ($in) };
      return $out . err_item ($@) if $@;
      if (length $in == $before) {
         my ($verdict, $err) = cbor_prefix ($in);
         return $out . "P" if $verdict eq "K";
         return $out . err_item ("once complete: $err") if $verdict eq "X";
         (my $e = "padded: $err") =~ s/ at \S+ line \d+\.?\n?\z//;
         return $out . "Q" . pack ("N", length $e) . $e;
      }
      my ($item, $err) = message_item ($v);
      return $out . $err if defined $err;
      $out .= $item;
   }
   $out . "K"
}

# --- building values from recipes ----------------------------------------

sub build {
   my ($r) = @_;
   my $op = substr $$r, 0, 1, "";
   die "recipe ends early\n" if $op eq "";
   my $take = sub {
      my ($n) = @_;
      die "recipe ends early\n" if length $$r < $n;
      substr $$r, 0, $n, "";
   };
   my $len = sub { unpack "N", $take->(4) };
   return undef                              if $op eq "u";
   return unpack "q>", $take->(8)            if $op eq "i";
   return unpack "Q>", $take->(8)            if $op eq "w";
   return unpack "d>", $take->(8)            if $op eq "n";
   return $take->($len->())                  if $op eq "b";
   if ($op eq "t") {
      my $s = $take->($len->());
      utf8::decode ($s);
      utf8::upgrade ($s);
      return $s;
   }
   if ($op eq "c") {
      my $n = $len->();
      my $s = join "", map chr, unpack "N*", $take->(4 * $n);
      utf8::upgrade ($s);
      return $s;
   }
   if ($op eq "d") {
      my $s = $take->($len->());
      my $num = $s + 0;    # now it is a string and a number
      return $s;
   }
   return $take->($len->()) + 0              if $op eq "N";
   return Types::Serialiser::true            if $op eq "T";
   return Types::Serialiser::false           if $op eq "F";
   return !!1                                if $op eq "y";
   return !!0                                if $op eq "z";
   if ($op eq "a") {
      my $n = $len->();
      return [map build ($r), 1 .. $n];
   }
   if ($op eq "h") {
      my $n = $len->();
      my %h;
      for (1 .. $n) {
         my $k = build ($r);
         $h{$k} = build ($r);
      }
      return \%h;
   }
   die "unknown recipe op " . ord ($op) . "\n";
}

sub encode {
   my ($framing, $recipe) = @_;
   my $msg = build (\$recipe);
   return JSON::XS::encode_json ($msg)         if $framing eq "j";
   return pack "w/a*", Storable::nfreeze ($msg) if $framing eq "s";
   return CBOR::XS::encode_cbor ($msg)          if $framing eq "c";
   die "unknown framing $framing\n";
}

# --- the loop -------------------------------------------------------------

my %decoder = (j => \&decode_json_stream, s => \&decode_storable_stream, c => \&decode_cbor_stream);

while (1) {
   my ($op, $framing, $len) = unpack "a a N", read_exactly (6);
   my $payload = read_exactly ($len);
   if ($op eq "V") {
      reply V => sprintf "perl %vd; JSON::XS %s; CBOR::XS %s; Storable %s; Types::Serialiser %s",
         $^V, $JSON::XS::VERSION, $CBOR::XS::VERSION, $Storable::VERSION, $Types::Serialiser::VERSION;
   } elsif ($op eq "D") {
      my $dec = $decoder{$framing} or die "unknown framing $framing\n";
      reply D => $dec->($payload);
   } elsif ($op eq "E") {
      my $bytes = eval { encode ($framing, $payload) };
      if (defined $bytes) {
         reply B => $bytes;
      } else {
         (my $e = $@) =~ s/ at \S+ line \d+\.?\n?\z//;
         reply X => $e;
      }
   } else {
      die "unknown op $op\n";
   }
}
