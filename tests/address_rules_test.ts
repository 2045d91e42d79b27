/**
 * The address and CIDR matcher of the listeners' allow and deny rules:
 * IPv4, IPv6, IPv4-mapped IPv6, and a clear reason for each bad entry.
 */
import { AccessRules, inRange, parseAddress, parseRange } from "../modules/address_rules.ts";
import { assertEquals, assertThrows } from "./assert.ts";

function matches(range: string, address: string): boolean {
  const parsed = parseAddress(address);
  if (parsed === undefined) throw new Error(`not an address: ${address}`);
  return inRange(parsed, parseRange(range));
}

Deno.test("address rules: IPv4 ranges and single addresses", () => {
  assertEquals(matches("127.0.0.1", "127.0.0.1"), true);
  assertEquals(matches("127.0.0.1", "127.0.0.2"), false);
  assertEquals(matches("127.0.0.0/8", "127.255.1.2"), true);
  assertEquals(matches("127.0.0.0/8", "128.0.0.1"), false);
  assertEquals(matches("10.0.0.0/8", "127.0.0.1"), false);
  assertEquals(matches("192.168.1.0/24", "192.168.1.77"), true);
  assertEquals(matches("192.168.1.0/24", "192.168.2.77"), false);
  assertEquals(matches("172.16.0.0/12", "172.31.255.255"), true);
  assertEquals(matches("172.16.0.0/12", "172.32.0.0"), false);
  assertEquals(matches("10.1.2.3/32", "10.1.2.3"), true);
  assertEquals(matches("0.0.0.0/0", "203.0.113.9"), true);
  assertEquals(matches("0.0.0.0/0", "2001:db8::1"), false, "every IPv4 address, not IPv6 ones");
  assertEquals(matches("128.0.0.0/1", "200.1.1.1"), true);
  assertEquals(matches("128.0.0.0/1", "100.1.1.1"), false);
});

Deno.test("address rules: IPv6 ranges and addresses", () => {
  assertEquals(matches("::1", "::1"), true);
  assertEquals(matches("::1", "[::1]"), true, "brackets as in a host:port");
  assertEquals(matches("::1", "::2"), false);
  assertEquals(matches("fe80::/10", "fe80::1"), true);
  assertEquals(matches("fe80::/10", "febf:ffff::1"), true);
  assertEquals(matches("fe80::/10", "fec0::1"), false);
  assertEquals(matches("fe80::/10", "fe80::1%eth0"), true, "a zone index is ignored");
  assertEquals(matches("2001:db8::/32", "2001:DB8:0:0:0:0:0:7"), true, "hex in any case");
  assertEquals(matches("2001:db8::/32", "2001:db9::7"), false);
  assertEquals(matches("2001:db8:0:1::/64", "2001:db8:0:1:ffff:ffff:ffff:ffff"), true);
  assertEquals(matches("2001:db8:0:1::/64", "2001:db8:0:2::"), false);
  assertEquals(matches("::/0", "2001:db8::1"), true);
  assertEquals(matches("::/0", "127.0.0.1"), true, "every address, IPv4 ones too");
  assertEquals(matches("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), true);
  assertEquals(matches("1::8", "1:0:0:0:0:0:0:8"), true);
});

Deno.test("address rules: IPv4-mapped IPv6 matches IPv4 rules and the other way round", () => {
  assertEquals(matches("127.0.0.0/8", "::ffff:127.0.0.1"), true);
  assertEquals(matches("10.0.0.0/8", "::ffff:127.0.0.1"), false);
  assertEquals(matches("::ffff:127.0.0.1", "127.0.0.1"), true);
  assertEquals(matches("::ffff:10.0.0.0/104", "10.200.0.1"), true);
  assertEquals(matches("::ffff:0:0/96", "8.8.8.8"), true);
  assertEquals(matches("::ffff:7f00:1", "127.0.0.1"), true, "the mapped form in hex");
  assertEquals(matches("::1", "127.0.0.1"), false, "IPv6 loopback is not IPv4 loopback");
});

Deno.test("address rules: peers that are not IP addresses", () => {
  assertEquals(parseAddress("unix:/tmp/x.sock"), undefined);
  assertEquals(parseAddress("localhost"), undefined);
  assertEquals(parseAddress("?"), undefined);
  assertEquals(parseAddress("1.2.3.4"), [0, 0, 0xffff, 0x01020304]);
});

Deno.test("address rules: each bad entry says what is wrong", () => {
  const reason = (entry: string): string => {
    try {
      parseRange(entry);
    } catch (error) {
      return (error as Error).message;
    }
    return "accepted";
  };
  assertEquals(reason(""), "an empty entry is not an address");
  assertEquals(
    reason("10.0.0.0/33"),
    "prefix length 33 is more than the 32 bits of an IPv4 address",
  );
  assertEquals(reason("::/129"), "prefix length 129 is more than the 128 bits of an IPv6 address");
  assertEquals(reason("10.0.0.0/x"), 'prefix length "x" is not a whole number');
  assertEquals(reason("10.0.0.0/"), 'prefix length "" is not a whole number');
  assertEquals(reason("10.0.0.0/08"), 'prefix length "08" is not a whole number');
  assertEquals(
    reason("10.0.0.256"),
    '"256" in "10.0.0.256" is not a number from 0 to 255 (without leading zeros)',
  );
  assertEquals(
    reason("10.0.0.01"),
    '"01" in "10.0.0.01" is not a number from 0 to 255 (without leading zeros)',
  );
  assertEquals(reason("10.0.0"), '"10.0.0" is not an IPv4 address (it needs four parts)');
  assertEquals(
    reason("localhost"),
    '"localhost" is not an IPv4 or IPv6 address (host names are not looked up)',
  );
  assertEquals(reason("1::2::3"), '"1::2::3" is not an IPv6 address ("::" may appear once)');
  assertEquals(reason("1:2:3"), '"1:2:3" is not an IPv6 address (it needs 8 groups)');
  assertEquals(
    reason("fe80::g"),
    '"fe80::g" is not an IPv6 address ("g" is not 1 to 4 hexadecimal digits)',
  );
  assertEquals(
    reason("1:2:3:4:5:6:7::8"),
    '"1:2:3:4:5:6:7::8" is not an IPv6 address (too many groups around "::")',
  );
  assertEquals(reason("fe80::1%eth0"), '"fe80::1%eth0" has a zone index (%...); rules take none');
  assertEquals(
    reason("10.1.0.0/8"),
    'host bits are set after the first 8 bits; did you mean "10.0.0.0/8"?',
  );
  assertEquals(
    reason("fe80::1/10"),
    'host bits are set after the first 10 bits; did you mean "fe80::/10"?',
  );
  assertEquals(
    reason("2001:db8:0:0:1::/32"),
    'host bits are set after the first 32 bits; did you mean "2001:db8::/32"?',
  );
});

Deno.test("access rules: deny wins, an allow list admits only its peers", () => {
  const open = new AccessRules(undefined, []);
  assertEquals(open.check("127.0.0.1"), undefined);
  assertEquals(open.check(undefined), undefined, "no rules: a Unix peer too");

  const deny = new AccessRules(undefined, ["127.0.0.0/8", "::1"]);
  assertEquals(deny.check("127.0.0.1"), {
    list: "deny",
    rule: "127.0.0.0/8",
    reason: 'matches deny rule "127.0.0.0/8"',
  });
  assertEquals(deny.check("::ffff:127.0.0.9")?.rule, "127.0.0.0/8");
  assertEquals(deny.check("::1")?.rule, "::1");
  assertEquals(deny.check("10.0.0.1"), undefined);

  const allow = new AccessRules(["10.0.0.0/8", "fe80::/10"], ["10.9.0.0/16"]);
  assertEquals(allow.check("10.1.1.1"), undefined);
  assertEquals(allow.check("fe80::5"), undefined);
  assertEquals(allow.check("10.9.1.1")?.reason, 'matches deny rule "10.9.0.0/16"', "deny wins");
  assertEquals(allow.check("127.0.0.1"), {
    list: "allow",
    rule: "10.0.0.0/8, fe80::/10",
    reason: "matches no allow rule (10.0.0.0/8, fe80::/10)",
  });
  assertEquals(
    allow.check(undefined)?.reason,
    "has no IP address, and the listener has an allow list (10.0.0.0/8, fe80::/10)",
  );
  assertEquals(
    new AccessRules([]).check("127.0.0.1")?.list,
    "allow",
    "an empty allow list admits none",
  );
  assertThrows(() => new AccessRules(["10.0.0.0/40"]));
});
