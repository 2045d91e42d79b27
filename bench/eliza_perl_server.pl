#!/usr/bin/perl
# The standalone forking ELIZA server of Lincoln Stein's "Client-Server
# Applications" (Listing 2), as the baseline of the ELIZA benchmark: one
# process per connection, each running Chatbot::Eliza's command_interface on
# the socket. Changes for the benchmark: the port is an argument (default 0,
# any free port), the socket is bound to 127.0.0.1 with a backlog of 128, the
# first line on standard output says where it listens (bench/server_process.ts
# reads it), SIGTERM stops the sessions still open before the parent exits 0,
# and the bot is built once, by the parent.
#
# The article's child calls Chatbot::Eliza->new, but new() reads the DOCTOR
# script from the module's DATA handle (tell, read to the end, seek back), and
# forked children share that handle's file offset: children built at the same
# moment, as when 16 clients connect at once, read parts of the script (seen
# as "Use of uninitialized value" warnings on the socket, empty greetings and
# sessions that end). A bot built before the accept loop is copied by fork, so
# each session still has its own memory and random seed.
#
# With --nodelay, each connection gets TCP_NODELAY. command_interface prints
# "Eliza:\t" and the reply in two writes, so with Nagle's algorithm on (the
# article's server) the reply waits for the client to acknowledge "Eliza:\t",
# which a client that waits for the whole line delays by up to 40 ms on Linux.
#
#   perl bench/eliza_perl_server.pl [--nodelay] [PORT]
#   listening on tcp://127.0.0.1:PORT
use strict;
use warnings;
use Chatbot::Eliza;
use IO::Socket;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use POSIX qw(WNOHANG sigprocmask SIG_BLOCK SIG_SETMASK SIGCHLD SIGTERM);

my $nodelay = @ARGV && $ARGV[0] eq '--nodelay' ? shift @ARGV : 0;
my $port = @ARGV ? shift @ARGV : 0;
die "usage: $0 [--nodelay] [PORT]\n" unless !@ARGV && $port =~ /^\d+$/ && $port <= 65535;

# Sessions still running, by process id: the ones SIGTERM must stop.
my %children;

# Reap every child that has exited; two may end at the same moment.
$SIG{CHLD} = sub {
    while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
        delete $children{$pid};
    }
};

# Stop: end the sessions still open, then the server.
$SIG{TERM} = sub {
    kill 'TERM', keys %children if %children;
    exit 0;
};

my $eliza = Chatbot::Eliza->new;

my $listen_socket = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1',
    LocalPort => $port,
    Proto     => 'tcp',
    Listen    => 128,
    Reuse     => 1,
) or die "cannot listen on 127.0.0.1:$port: $@\n";

STDOUT->autoflush(1);
print "listening on tcp://127.0.0.1:", $listen_socket->sockport, "\n";

while (1) {
    my $connection = $listen_socket->accept;
    unless ($connection) {
        next if $!{EINTR};    # a child ended (SIGCHLD) while we waited
        die "accept: $!\n";
    }
    # Hold SIGCHLD and SIGTERM until the child is in %children (in the
    # parent) or has its own handlers (in the child).
    my $held = POSIX::SigSet->new;
    sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGCHLD, SIGTERM), $held);
    my $child = fork;
    if (!defined $child) {
        warn "fork: $!\n";    # no session for this client; keep serving the others
    } elsif ($child == 0) {
        $SIG{$_} = 'DEFAULT' for qw(CHLD TERM PIPE);
        sigprocmask(SIG_SETMASK, $held);
        $listen_socket->close;
        interact($connection, $eliza);
        exit 0;
    } else {
        $children{$child} = 1;
    }
    sigprocmask(SIG_SETMASK, $held);
    $connection->close;
}

# One session: the socket becomes standard input, output and error, and ELIZA
# takes over. Chatbot::Eliza keeps reading after end of file (warning about
# the undefined line, on the socket too), so a session ends when writing to a
# client that has gone raises SIGPIPE (its default action ends the child), or
# with SIGTERM from the parent.
sub interact {
    my ($socket, $bot) = @_;
    setsockopt($socket, IPPROTO_TCP, TCP_NODELAY, 1) or die "TCP_NODELAY: $!\n" if $nodelay;
    STDIN->fdopen($socket, 'r') or die "fdopen STDIN: $!\n";
    STDOUT->fdopen($socket, 'w') or die "fdopen STDOUT: $!\n";
    STDERR->fdopen($socket, 'w') or die "fdopen STDERR: $!\n";
    STDOUT->autoflush(1);
    $bot->command_interface;
}
