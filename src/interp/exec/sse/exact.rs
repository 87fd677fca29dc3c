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
}
