//! Exact comparisons of the infinitely precise result of a floating-point
//! operation with a threshold, by integer arithmetic on significands. The
//! rounding code asks "is the exact result above, at or below t?" to get
//! the rounding-error sign, the overflow decision of the directed modes
//! and the underflow (tininess after rounding with unbounded exponent)
//! decision next to the smallest normal number.

use std::cmp::Ordering;

/// ±m · 2^e.
#[derive(Clone, Copy, Debug)]
pub struct Num {
    pub neg: bool,
    pub m: u128,
    pub e: i32,
}

impl Num {
    /// A finite f64.
    pub fn of(x: f64) -> Num {
        let (m, e) = decomp(x);
        Num {
            neg: x.is_sign_negative(),
            m,
            e,
        }
    }
    pub fn pow2(e: i32, neg: bool) -> Num {
        Num { neg, m: 1, e }
    }
    fn negate(self) -> Num {
        Num {
            neg: !self.neg,
            ..self
        }
    }
    fn term(self) -> (bool, u128, i32) {
        (self.neg, self.m, self.e)
    }
}

/// |x| = m · 2^e for a finite f64.
pub fn decomp(x: f64) -> (u128, i32) {
    let b = x.to_bits();
    let e = ((b >> 52) & 0x7FF) as i32;
    let f = u128::from(b & ((1 << 52) - 1));
    if e == 0 {
        (f, -1074)
    } else {
        (f | 1 << 52, e - 1075)
    }
}

/// An exact result, given by its operands (all finite; binary32 operands
/// are widened to binary64 exactly).
#[derive(Clone, Copy, Debug)]
pub enum Ex {
    Sum(f64, f64),
    Prod(f64, f64),
    Quot(f64, f64),
    Root(f64),
    /// x·y + z.
    Fma(f64, f64, f64),
    Val(f64),
    Int(i64),
}

const ZERO: (bool, u128, i32) = (false, 0, 0);

fn prod(x: f64, y: f64) -> (bool, u128, i32) {
    let (a, b) = (Num::of(x), Num::of(y));
    (a.neg != b.neg, a.m * b.m, a.e + b.e)
}

impl Ex {
    /// Sign of (exact − t).
    pub fn vs(&self, t: Num) -> Ordering {
        let nt = t.negate().term();
        match *self {
            Ex::Sum(a, b) => sign3([Num::of(a).term(), Num::of(b).term(), nt]),
            Ex::Prod(a, b) => sign3([prod(a, b), nt, ZERO]),
            Ex::Quot(a, b) => {
                // a/b − t has the sign of (a − t·b)·sign(b).
                let nb = Num::of(b);
                let tb = (t.neg == nb.neg, t.m * nb.m, t.e + nb.e);
                let o = sign3([Num::of(a).term(), tb, ZERO]);
                if nb.neg { o.reverse() } else { o }
            }
            Ex::Root(a) => {
                if t.neg && t.m != 0 {
                    return Ordering::Greater;
                }
                sign3([Num::of(a).term(), (true, t.m * t.m, 2 * t.e), ZERO])
            }
            Ex::Fma(x, y, z) => sign3([prod(x, y), Num::of(z).term(), nt]),
            Ex::Val(x) => sign3([Num::of(x).term(), nt, ZERO]),
            Ex::Int(i) => sign3([(i < 0, u128::from(i.unsigned_abs()), 0), nt, ZERO]),
        }
    }
}

fn sign_of(x: f64) -> Ordering {
    x.partial_cmp(&0.0).unwrap_or(Ordering::Equal)
}

/// TwoSum: a + b = s + t exactly (no overflow).
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let aa = s - bb;
    (s, (a - aa) + (b - bb))
}

/// Dekker's TwoProduct error: a·b − p exactly, valid for |a|, |b| <
/// 2^995 and a product far from the underflow range.
fn two_prod_err(a: f64, b: f64, p: f64) -> f64 {
    let split = |x: f64| {
        let c = 134_217_729.0 * x;
        let hi = c - (c - x);
        (hi, x - hi)
    };
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    ((ah * bh - p) + ah * bl + al * bh) + al * bl
}

/// Operands safe for [`two_prod_err`].
fn prod_ok(a: f64, b: f64, p: f64) -> bool {
    const BIG: f64 = 1.0e299; // < 2^995
    const SMALL: f64 = 1.0e-290; // > 2^-969
    a.abs() < BIG && b.abs() < BIG && p.abs() > SMALL && p.abs() < BIG
}

impl Ex {
    /// The sign of (exact − r) by a few floating-point operations, for a
    /// normal result `r` of binary32 (`single`) or binary64 precision;
    /// None when the fast formulas could overflow or underflow.
    #[inline(always)]
    pub fn quick(&self, r: f64, single: bool) -> Option<Ordering> {
        let two_sum_err = |s: f64, t: f64| {
            let d = s - r;
            if d != 0.0 { sign_of(d) } else { sign_of(t) }
        };
        Some(match *self {
            Ex::Int(i) => i128::from(i).cmp(&(r as i128)),
            Ex::Val(x) => sign_of(x - r),
            _ if single => match *self {
                Ex::Sum(a, b) => {
                    let (s, t) = two_sum(a, b);
                    two_sum_err(s, t)
                }
                Ex::Prod(a, b) => sign_of(a * b - r),
                Ex::Quot(a, b) => {
                    let o = sign_of(a - r * b);
                    if b < 0.0 { o.reverse() } else { o }
                }
                Ex::Root(a) => sign_of(a - r * r),
                Ex::Fma(x, y, z) => {
                    let (s, t) = two_sum(x * y, z);
                    two_sum_err(s, t)
                }
                _ => return None,
            },
            Ex::Sum(a, b) => {
                if a.abs() >= 1.0e307 || b.abs() >= 1.0e307 {
                    return None;
                }
                let bb = r - a;
                let aa = r - bb;
                sign_of((a - aa) + (b - bb))
            }
            Ex::Prod(a, b) => {
                if !prod_ok(a, b, r) {
                    return None;
                }
                sign_of(two_prod_err(a, b, r))
            }
            Ex::Quot(a, b) => {
                let p = r * b;
                if !prod_ok(r, b, p) {
                    return None;
                }
                let o = sign_of((a - p) - two_prod_err(r, b, p));
                if b < 0.0 { o.reverse() } else { o }
            }
            Ex::Root(a) => {
                let p = r * r;
                if !prod_ok(r, r, p) {
                    return None;
                }
                sign_of((a - p) - two_prod_err(r, r, p))
            }
            Ex::Fma(..) => return None,
        })
    }
}

/// Sign of Σ ±m·2^e over three terms (m < 2^108), exactly. Terms lying
/// wholly below the others' lowest bits only matter when those cancel.
pub fn sign3(t: [(bool, u128, i32); 3]) -> Ordering {
    let top = |m: u128, e: i32| e + (128 - m.leading_zeros() as i32);
    let mut v = [(false, 0u128, 0i32, 0i32); 3];
    let mut n = 0;
    for &(neg, m, e) in t.iter() {
        if m != 0 {
            v[n] = (neg, m, e, top(m, e));
            n += 1;
        }
    }
    if n == 0 {
        return Ordering::Equal;
    }
    v[..n].sort_by_key(|x| std::cmp::Reverse(x.3));
    // Terms overlapping (or adjacent to) the span of the larger ones are
    // summed exactly; the rest only break ties.
    let mut base = v[0].2;
    let mut k = 1;
    while k < n && v[k].3 > base - 2 {
        base = base.min(v[k].2);
        k += 1;
    }
    const W: usize = 10;
    let mut acc = [0u64; W];
    for &(neg, m, e, _) in &v[..k] {
        let sh = (e - base) as usize;
        let mut w = [0u64; W];
        let (q, b) = (sh / 64, sh % 64);
        let wide = [m as u64, (m >> 64) as u64, 0];
        for (i, x) in wide.iter().enumerate() {
            if q + i < W {
                w[q + i] |= x << b;
            }
            if b != 0 && q + i + 1 < W {
                w[q + i + 1] |= x >> (64 - b);
            }
        }
        if neg {
            let mut carry = 1u64;
            for x in w.iter_mut() {
                let (s, c) = (!*x).overflowing_add(carry);
                *x = s;
                carry = u64::from(c);
            }
        }
        let mut carry = 0u64;
        for (a, x) in acc.iter_mut().zip(w) {
            let (s1, c1) = a.overflowing_add(x);
            let (s2, c2) = s1.overflowing_add(carry);
            *a = s2;
            carry = u64::from(c1) + u64::from(c2);
        }
    }
    if acc[W - 1] >> 63 != 0 {
        return Ordering::Less;
    }
    if acc.iter().any(|&x| x != 0) {
        return Ordering::Greater;
    }
    let mut rest = [ZERO; 3];
    for (r, &(neg, m, e, _)) in rest.iter_mut().zip(v[k..n].iter()) {
        *r = (neg, m, e);
    }
    if k == n { Ordering::Equal } else { sign3(rest) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons() {
        let third = 1.0f64 / 3.0;
        assert_eq!(Ex::Quot(1.0, 3.0).vs(Num::of(third)), Ordering::Greater);
        assert_eq!(Ex::Prod(1.5, 2.0).vs(Num::of(3.0)), Ordering::Equal);
        assert_eq!(Ex::Sum(1.0, 1e-300).vs(Num::of(1.0)), Ordering::Greater);
        assert_eq!(Ex::Sum(-1.0, 1e-300).vs(Num::of(-1.0)), Ordering::Greater);
        assert_eq!(Ex::Root(2.0).vs(Num::of(2f64.sqrt())), Ordering::Less);
        assert_eq!(
            Ex::Fma(f64::MIN_POSITIVE, 1e-300, -5.0).vs(Num::of(-5.0)),
            Ordering::Greater
        );
        assert_eq!(Ex::Int(-3).vs(Num::pow2(1, true)), Ordering::Less);
        assert_eq!(Ex::Val(f64::MAX).vs(Num::pow2(1024, false)), Ordering::Less);
    }

    /// The cheap error signs agree with the exact ones wherever they
    /// claim to apply.
    #[test]
    fn quick_agrees_with_exact() {
        let mut x = 0x1234_5678_9ABC_DEF1u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut checked = 0;
        for _ in 0..50_000 {
            let (u, w) = (next(), next());
            // Doubles with a wide exponent spread, and singles.
            let a = f64::from_bits((u & 0x800F_FFFF_FFFF_FFFF) | ((u >> 52) % 2046 + 1) << 52);
            let b = f64::from_bits((w & 0x800F_FFFF_FFFF_FFFF) | ((w >> 52) % 2046 + 1) << 52);
            let (fa, fb) = (
                f64::from(f32::from_bits(u as u32)),
                f64::from(f32::from_bits(w as u32)),
            );
            let cases = [
                (Ex::Sum(a, b), a + b, false),
                (Ex::Prod(a, b), a * b, false),
                (Ex::Quot(a, b), a / b, false),
                (Ex::Root(a.abs()), a.abs().sqrt(), false),
                (Ex::Sum(fa, fb), f64::from((fa + fb) as f32), true),
                (Ex::Prod(fa, fb), f64::from((fa * fb) as f32), true),
                (Ex::Quot(fa, fb), f64::from((fa as f32) / (fb as f32)), true),
                (
                    Ex::Root(fa.abs()),
                    f64::from((fa.abs() as f32).sqrt()),
                    true,
                ),
            ];
            for (ex, r, single) in cases {
                let normal = if single {
                    (r as f32).is_normal()
                } else {
                    r.is_normal()
                };
                if !normal {
                    continue;
                }
                if let Some(q) = ex.quick(r, single) {
                    assert_eq!(q, ex.vs(Num::of(r)), "{ex:?} r={r:e}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 200_000, "{checked}");
    }
}
