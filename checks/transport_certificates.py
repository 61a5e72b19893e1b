"""Layer 1, transport: can a client verify the server? The certificate the live probe
received: chain and name (verify-full semantics), validity left, key and signature strength.
"""

from __future__ import annotations

from typing import Any

from auditor.checks.transport import LiveTlsCheck
from auditor.facts import Facts
from auditor.model import Result, Severity
from auditor.tls.facts import CertificateFacts, TlsFacts


def _cert_evidence(cert: CertificateFacts) -> dict[str, Any]:
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "serial_number": cert.serial_number,
        "sha256_fingerprint": cert.sha256_fingerprint,
        "not_after": cert.not_after,
    }


class _CertificateCheck(LiveTlsCheck):
    def judge(self, facts: Facts, tls: TlsFacts) -> list[Result]:
        if not tls.certificate_chain:
            reason = "; ".join(tls.problems) or "the server sent no certificate"
            return [self.errored(facts, f"no certificate to judge: {reason}")]
        return self.judge_chain(facts, tls, tls.certificate_chain)

    def judge_chain(
        self, facts: Facts, tls: TlsFacts, chain: tuple[CertificateFacts, ...]
    ) -> list[Result]:
        raise NotImplementedError


class CertificateTrust(_CertificateCheck):
    id = "transport.certificate_trust"
    title = "The server certificate validates with verify-full semantics"
    severity = Severity.HIGH
    rationale = (
        "Clients can only detect a man in the middle when the certificate chains to a CA they "
        "trust and names the host they asked for (libpq sslmode=verify-full)."
    )
    remediation = (
        "Issue the server certificate from your CA with a subjectAltName for every name clients "
        "use, install the chain in ssl_cert_file, and give clients the CA as sslrootcert."
    )

    def judge_chain(
        self, facts: Facts, tls: TlsFacts, chain: tuple[CertificateFacts, ...]
    ) -> list[Result]:
        trust = tls.trust
        leaf = chain[0]
        if trust is None:
            return [self.errored(facts, "the certificate chain could not be validated")]
        evidence = {
            "certificate": _cert_evidence(leaf)
            | {
                "san_dns": list(leaf.san_dns),
                "san_ip": list(leaf.san_ip),
                "self_signed": leaf.self_signed,
            },
            "store": trust.store,
            "chain_valid": trust.chain_valid,
            "chain_error": trust.chain_error,
            "verified_by": trust.verified_by,
            "security_level": trust.security_level,
            "openssl_verify_code": trust.openssl_verify_code,
            "openssl_reason": trust.openssl_reason,
            "host": trust.host,
            "hostname_matches": trust.hostname_matches,
            "hostname_detail": trust.hostname_detail,
        }
        if trust.relaxed_because is not None:
            evidence["libpq_defaults_could_not_connect"] = trust.relaxed_because
        unjudged = trust.store_problem or trust.not_verified
        if unjudged is not None and trust.hostname_matches:
            # Not (shown to be) the server's fault: no usable CA, or no verification answer.
            hint = " (fix the target's sslrootcert)" if trust.store_problem else ""
            return [
                self.errored(
                    facts,
                    f"chain of {leaf.subject} not judged: {unjudged}{hint}; "
                    f"{trust.hostname_detail}",
                    resource=leaf.subject,
                    evidence=evidence,
                )
            ]
        legacy_bundle = trust.verified_by is None and trust.store_problem is None
        if legacy_bundle and trust.chain_valid and trust.hostname_matches:
            # A bundle saved before chains were verified in a handshake: its "valid" came from
            # other rules than libpq's, so it is not repeated as a PASS (its failures stand).
            return [
                self.errored(
                    facts,
                    "these saved facts predate libpq-exact chain verification: scan again",
                    resource=leaf.subject,
                    evidence=evidence,
                )
            ]
        problems: list[str] = []
        issued = "" if leaf.self_signed else f" issued by {leaf.issuer}"
        if unjudged is not None:
            problems.append(f"chain not judged: {unjudged}")
        elif not trust.chain_valid:
            kind = "self-signed certificate" if leaf.self_signed else "certificate"
            problems.append(
                f"{kind} {leaf.subject}{issued} is refused against {trust.store}: "
                f"{trust.chain_error}"
            )
        if not trust.hostname_matches:
            problems.append(f"hostname check failed: {trust.hostname_detail}")
        relaxed = ""
        if trust.relaxed_because is not None:
            relaxed = (
                f" (libpq with its defaults could not connect at all - {trust.relaxed_because} - "
                "so the chain was verified in a TLS 1.0+ handshake at security level 0 and the "
                f"key and digest rules of level {trust.security_level} were applied to it)"
            )
        if problems:
            return [
                self.failed(
                    facts, "; ".join(problems) + relaxed, resource=leaf.subject, evidence=evidence
                )
            ]
        return [
            self.passed(
                facts,
                f"{leaf.subject}{issued} is accepted against {trust.store} by OpenSSL at "
                f"security level {trust.security_level}, as libpq verify-full would, and "
                f"{trust.hostname_detail}{relaxed}",
                resource=leaf.subject,
                evidence=evidence,
            )
        ]


class CertificateExpiry(_CertificateCheck):
    id = "transport.certificate_expiry"
    title = "The server certificate is valid for long enough"
    severity = Severity.HIGH
    rationale = (
        "An expired certificate breaks verify-full clients or teaches people to turn "
        "verification off; renewal needs lead time."
    )
    remediation = "Renew the certificate (and intermediates), replace ssl_cert_file and reload."

    def judge_chain(
        self, facts: Facts, tls: TlsFacts, chain: tuple[CertificateFacts, ...]
    ) -> list[Result]:
        minimum = facts.target.policy.certificate_min_days_left
        soonest = min(chain, key=lambda c: c.days_left)
        evidence = {
            "certificates": [_cert_evidence(c) | {"days_left": c.days_left} for c in chain],
            "min_days_left": minimum,
        }
        what = "the server certificate" if soonest is chain[0] else "a chain certificate"
        compare = {
            "expected": f"at least {minimum} days left",
            "actual": f"{soonest.days_left} days left ({soonest.subject})",
        }
        if soonest.days_left < 0:
            return [
                self.failed(
                    facts,
                    f"{what} {soonest.subject} expired on {soonest.not_after} "
                    f"({-soonest.days_left} days ago)",
                    resource=soonest.subject,
                    evidence=evidence,
                    severity=Severity.CRITICAL,
                    **compare,
                )
            ]
        if soonest.days_left < minimum:
            return [
                self.failed(
                    facts,
                    f"{what} {soonest.subject} expires on {soonest.not_after}: "
                    f"{soonest.days_left} days left (policy: at least {minimum})",
                    resource=soonest.subject,
                    evidence=evidence,
                    **compare,
                )
            ]
        return [
            self.passed(
                facts,
                f"{soonest.subject} is valid until {soonest.not_after} "
                f"({soonest.days_left} days left)",
                resource=chain[0].subject,
                evidence=evidence,
                **compare,
            )
        ]


WEAK_SIGNATURE_HASHES = frozenset({"sha1", "md5", "md2", "md4"})


class CertificateStrength(_CertificateCheck):
    id = "transport.certificate_strength"
    title = "Certificate keys and signatures are strong"
    severity = Severity.MEDIUM
    rationale = "RSA keys under 2048 bits and SHA-1/MD5 signatures can be broken or forged."
    remediation = (
        "Re-issue the certificate with an RSA 2048+ or EC P-256+ key and a SHA-256 (or "
        "stronger) signature."
    )

    def judge_chain(
        self, facts: Facts, tls: TlsFacts, chain: tuple[CertificateFacts, ...]
    ) -> list[Result]:
        policy = facts.target.policy
        issues: list[dict[str, Any]] = []
        for position, cert in enumerate(chain):
            found: list[str] = []
            if cert.key_type in ("rsa", "dsa") and cert.key_bits < policy.certificate_min_rsa_bits:
                found.append(
                    f"{cert.key_type.upper()} key of {cert.key_bits} bits "
                    f"(policy: {policy.certificate_min_rsa_bits}+)"
                )
            if cert.key_type == "ec" and cert.key_bits < policy.certificate_min_ec_bits:
                found.append(
                    f"EC key of {cert.key_bits} bits (policy: {policy.certificate_min_ec_bits}+)"
                )
            # A self-signed root's own signature is never checked by clients, so it is not
            # judged; the leaf's always is (a self-signed leaf is its own anchor only by luck).
            judged_signature = position == 0 or not cert.self_signed
            if judged_signature and (cert.signature_hash or "").lower() in WEAK_SIGNATURE_HASHES:
                found.append(f"{(cert.signature_hash or '').upper()} signature")
            if found:
                issues.append({"certificate": cert.subject, "position": position, "issues": found})
        evidence = {
            "certificates": [
                {
                    "subject": c.subject,
                    "key_type": c.key_type,
                    "key_bits": c.key_bits,
                    "signature_hash": c.signature_hash,
                }
                for c in chain
            ],
            "weak": issues,
        }
        leaf = chain[0]
        compare = {
            "expected": f"RSA keys of {policy.certificate_min_rsa_bits}+ bits, EC keys of "
            f"{policy.certificate_min_ec_bits}+ bits, no SHA-1/MD5 signature",
            "actual": [
                f"{c.subject}: {c.key_type.upper()} {c.key_bits} bits, {c.signature_hash}"
                for c in chain
            ],
        }
        if issues:
            named = [f"{i['certificate']}: {', '.join(i['issues'])}" for i in issues]
            return [
                self.failed(
                    facts,
                    "; ".join(named),
                    resource=issues[0]["certificate"],
                    evidence=evidence,
                    **compare,
                )
            ]
        return [
            self.passed(
                facts,
                f"{leaf.subject}: {leaf.key_type.upper()} {leaf.key_bits} bits, "
                f"{leaf.signature_hash} signature",
                resource=leaf.subject,
                evidence=evidence,
                **compare,
            )
        ]
