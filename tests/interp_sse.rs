//! SIMD instructions in the interpreter.
//!
//! Results are checked against the host CPU: each case is assembled into
//! a frame that loads registers, MXCSR, flags and memory from a block, runs
//! the instruction and stores everything back; the frame runs natively and
//! in the interpreter on the same random inputs (see `sse_oracle`). The
//! exception rules and the state-save instructions, which cannot run
//! natively in user mode, are in `interp_sse_rules.rs`.

mod common;
#[cfg(target_arch = "x86_64")]
mod sse_oracle;

#[cfg(target_arch = "x86_64")]
mod oracle {
    use super::sse_oracle::*;
    use iced_x86::code_asm::*;

    /// Random inputs per case (`NESTOR_SSE_ORACLE_N` overrides).
    fn n() -> usize {
        std::env::var("NESTOR_SSE_ORACLE_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(48)
    }

    macro_rules! nm {
        ($m:ident, $f:expr) => {
            concat!(stringify!($m), " ", $f)
        };
    }

    /// Legacy xmm and VEX 128/256 forms of a two-source op.
    macro_rules! bin {
        ($v:ident, $g:ident, $l:ident, $x:ident) => {
            bin!($v, $g, $l, $x, 128);
            $v.push(case(nm!($x, "y,y,y"), G::$g, |a| a.$x(ymm0, ymm1, ymm2)));
            $v.push(case(nm!($x, "y,y,m"), G::$g, |a| {
                a.$x(ymm0, ymm1, ymmword_ptr(rsi + MEM))
            }));
        };
        ($v:ident, $g:ident, $l:ident, $x:ident, 128) => {
            $v.push(case(nm!($l, "x,x"), G::$g, |a| a.$l(xmm0, xmm1)));
            $v.push(case(nm!($l, "x,m"), G::$g, |a| {
                a.$l(xmm0, xmmword_ptr(rsi + MEM))
            }));
            $v.push(case(nm!($x, "x,x,x"), G::$g, |a| a.$x(xmm0, xmm1, xmm2)));
            $v.push(case(nm!($x, "x,x,m"), G::$g, |a| {
                a.$x(xmm0, xmm1, xmmword_ptr(rsi + MEM))
            }));
        };
    }

    /// MMX forms.
    macro_rules! mmx {
        ($v:ident, $g:ident, $l:ident) => {
            $v.push(mcase(nm!($l, "mm,mm"), G::$g, |a| a.$l(mm0, mm1)));
            $v.push(mcase(nm!($l, "mm,m"), G::$g, |a| {
                a.$l(mm2, qword_ptr(rsi + MEM + 8))
            }));
        };
    }

    /// Two sources and an immediate.
    macro_rules! bin_i {
        ($v:ident, $g:ident, $l:ident, $x:ident, $i:expr) => {
            bin_i!($v, $g, $l, $x, $i, 128);
            $v.push(case(nm!($x, "y,y,y,i"), G::$g, |a| {
                a.$x(ymm0, ymm1, ymm2, $i)
            }));
            $v.push(case(nm!($x, "y,y,m,i"), G::$g, |a| {
                a.$x(ymm0, ymm1, ymmword_ptr(rsi + MEM), $i)
            }));
        };
        ($v:ident, $g:ident, $l:ident, $x:ident, $i:expr, 128) => {
            $v.push(case(nm!($l, "x,x,i"), G::$g, |a| a.$l(xmm0, xmm1, $i)));
            $v.push(case(nm!($l, "x,m,i"), G::$g, |a| {
                a.$l(xmm0, xmmword_ptr(rsi + MEM), $i)
            }));
            $v.push(case(nm!($x, "x,x,x,i"), G::$g, |a| {
                a.$x(xmm0, xmm1, xmm2, $i)
            }));
            $v.push(case(nm!($x, "x,x,m,i"), G::$g, |a| {
                a.$x(xmm0, xmm1, xmmword_ptr(rsi + MEM), $i)
            }));
        };
    }

    /// One source (2-operand in both encodings).
    macro_rules! un {
        ($v:ident, $g:ident, $l:ident, $x:ident) => {
            un!($v, $g, $l, $x, 128);
            $v.push(case(nm!($x, "y,y"), G::$g, |a| a.$x(ymm0, ymm1)));
            $v.push(case(nm!($x, "y,m"), G::$g, |a| {
                a.$x(ymm0, ymmword_ptr(rsi + MEM))
            }));
        };
        ($v:ident, $g:ident, $l:ident, $x:ident, 128) => {
            $v.push(case(nm!($l, "x,x"), G::$g, |a| a.$l(xmm0, xmm1)));
            $v.push(case(nm!($l, "x,m"), G::$g, |a| {
                a.$l(xmm0, xmmword_ptr(rsi + MEM))
            }));
            $v.push(case(nm!($x, "x,x"), G::$g, |a| a.$x(xmm0, xmm1)));
            $v.push(case(nm!($x, "x,m"), G::$g, |a| {
                a.$x(xmm0, xmmword_ptr(rsi + MEM))
            }));
        };
    }

    /// One source and an immediate.
    macro_rules! un_i {
        ($v:ident, $g:ident, $l:ident, $x:ident, $i:expr) => {
            $v.push(case(nm!($l, "x,x,i"), G::$g, |a| a.$l(xmm0, xmm1, $i)));
            $v.push(case(nm!($l, "x,m,i"), G::$g, |a| {
                a.$l(xmm0, xmmword_ptr(rsi + MEM), $i)
            }));
            $v.push(case(nm!($x, "x,x,i"), G::$g, |a| a.$x(xmm0, xmm1, $i)));
            $v.push(case(nm!($x, "y,y,i"), G::$g, |a| a.$x(ymm0, ymm1, $i)));
            $v.push(case(nm!($x, "y,m,i"), G::$g, |a| {
                a.$x(ymm0, ymmword_ptr(rsi + MEM), $i)
            }));
        };
    }

    /// Scalar op with an m32/m64 operand.
    macro_rules! sca {
        ($v:ident, $g:ident, $l:ident, $x:ident, $p:ident) => {
            $v.push(case(nm!($l, "x,x"), G::$g, |a| a.$l(xmm0, xmm1)));
            $v.push(case(nm!($l, "x,m"), G::$g, |a| a.$l(xmm0, $p(rsi + MEM))));
            $v.push(case(nm!($x, "x,x,x"), G::$g, |a| a.$x(xmm0, xmm1, xmm2)));
            $v.push(case(nm!($x, "x,x,m"), G::$g, |a| {
                a.$x(xmm0, xmm1, $p(rsi + MEM))
            }));
        };
        ($v:ident, $g:ident, $l:ident, $x:ident, $p:ident, $i:expr) => {
            $v.push(case(nm!($l, "x,x,i"), G::$g, |a| a.$l(xmm0, xmm1, $i)));
            $v.push(case(nm!($l, "x,m,i"), G::$g, |a| {
                a.$l(xmm0, $p(rsi + MEM), $i)
            }));
            $v.push(case(nm!($x, "x,x,x,i"), G::$g, |a| {
                a.$x(xmm0, xmm1, xmm2, $i)
            }));
            $v.push(case(nm!($x, "x,x,m,i"), G::$g, |a| {
                a.$x(xmm0, xmm1, $p(rsi + MEM), $i)
            }));
        };
    }

    fn skip() -> bool {
        if !host_ok() {
            eprintln!("host lacks AVX2/FMA/F16C/AES/PCLMULQDQ/SSE4.2: oracle tests skipped");
            return true;
        }
        false
    }

    #[test]
    fn integer_arithmetic_matches_host() {
        if skip() {
            return;
        }
        let mut v = Vec::new();
        macro_rules! bm {
            ($($l:ident $x:ident),*) => { $( bin!(v, I, $l, $x); mmx!(v, I, $l); )* };
        }
        macro_rules! b {
            ($($l:ident $x:ident),*) => { $( bin!(v, I, $l, $x); )* };
        }
        bm!(paddb vpaddb, paddw vpaddw, paddd vpaddd, paddq vpaddq, psubb vpsubb, psubw vpsubw,
            psubd vpsubd, psubq vpsubq, paddsb vpaddsb, paddsw vpaddsw, paddusb vpaddusb,
            paddusw vpaddusw, psubsb vpsubsb, psubsw vpsubsw, psubusb vpsubusb, psubusw vpsubusw,
            pand vpand, pandn vpandn, por vpor, pxor vpxor, pcmpeqb vpcmpeqb, pcmpeqw vpcmpeqw,
            pcmpeqd vpcmpeqd, pcmpgtb vpcmpgtb, pcmpgtw vpcmpgtw, pcmpgtd vpcmpgtd,
            pmullw vpmullw, pmulhw vpmulhw, pmulhuw vpmulhuw, pmuludq vpmuludq,
            pmaddwd vpmaddwd, pmulhrsw vpmulhrsw, pmaddubsw vpmaddubsw, pavgb vpavgb,
            pavgw vpavgw, pminub vpminub, pmaxub vpmaxub, pminsw vpminsw, pmaxsw vpmaxsw,
            psadbw vpsadbw, psignb vpsignb, psignw vpsignw, psignd vpsignd, phaddw vphaddw,
            phaddd vphaddd, phaddsw vphaddsw, phsubw vphsubw, phsubd vphsubd,
            phsubsw vphsubsw);
        b!(pcmpeqq vpcmpeqq, pcmpgtq vpcmpgtq, pmulld vpmulld, pmuldq vpmuldq,
            pminsb vpminsb, pmaxsb vpmaxsb, pminuw vpminuw, pmaxuw vpmaxuw, pminsd vpminsd,
            pmaxsd vpmaxsd, pminud vpminud, pmaxud vpmaxud);
        un!(v, I, pabsb, vpabsb);
        un!(v, I, pabsw, vpabsw);
        un!(v, I, pabsd, vpabsd);
        mmx!(v, I, pabsb);
        mmx!(v, I, pabsd);
        // Variable shifts (AVX2 only).
        macro_rules! vs {
            ($($x:ident),*) => { $(
                v.push(case(nm!($x, "x,x,x"), G::I, |a| a.$x(xmm0, xmm1, xmm2)));
                v.push(case(nm!($x, "y,y,m"), G::I, |a| a.$x(ymm0, ymm1, ymmword_ptr(rsi + MEM))));
            )* };
        }
        vs!(vpsllvd, vpsllvq, vpsrlvd, vpsrlvq, vpsravd);
        check(&v, n());
    }

    #[test]
    fn shifts_match_host() {
        if skip() {
            return;
        }
        let mut v = Vec::new();
        macro_rules! sh {
            ($($l:ident $x:ident),*) => { $(
                v.push(case(nm!($l, "x,x"), G::I, |a| a.$l(xmm0, xmm1)));
                v.push(case(nm!($l, "x,m"), G::I, |a| a.$l(xmm0, xmmword_ptr(rsi + MEM))));
                v.push(case(nm!($l, "x,3"), G::I, |a| a.$l(xmm0, 3)));
                v.push(case(nm!($l, "x,17"), G::I, |a| a.$l(xmm0, 17)));
                v.push(case(nm!($l, "x,200"), G::I, |a| a.$l(xmm0, 200)));
                v.push(case(nm!($x, "x,x,x"), G::I, |a| a.$x(xmm0, xmm1, xmm2)));
                v.push(case(nm!($x, "y,y,x"), G::I, |a| a.$x(ymm0, ymm1, xmm2)));
                v.push(case(nm!($x, "y,y,m"), G::I, |a| a.$x(ymm0, ymm1, xmmword_ptr(rsi + MEM))));
                v.push(case(nm!($x, "x,x,5"), G::I, |a| a.$x(xmm0, xmm1, 5)));
                v.push(case(nm!($x, "y,y,33"), G::I, |a| a.$x(ymm0, ymm1, 33)));
                v.push(mcase(nm!($l, "mm,mm"), G::I, |a| a.$l(mm0, mm1)));
                v.push(mcase(nm!($l, "mm,7"), G::I, |a| a.$l(mm0, 7)));
            )* };
        }
        sh!(psllw vpsllw, pslld vpslld, psllq vpsllq, psrlw vpsrlw, psrld vpsrld, psrlq vpsrlq,
            psraw vpsraw, psrad vpsrad);
        v.push(case("pslldq 5", G::I, |a| a.pslldq(xmm0, 5)));
        v.push(case("psrldq 9", G::I, |a| a.psrldq(xmm0, 9)));
        v.push(case("psrldq 17", G::I, |a| a.psrldq(xmm0, 17)));
        v.push(case("vpslldq y 3", G::I, |a| a.vpslldq(ymm0, ymm1, 3)));
        v.push(case("vpsrldq x 15", G::I, |a| a.vpsrldq(xmm0, xmm1, 15)));
        check(&v, n());
    }

    #[test]
    fn shuffles_match_host() {
        if skip() {
            return;
        }
        let mut v = Vec::new();
        macro_rules! bm {
            ($($l:ident $x:ident),*) => { $( bin!(v, I, $l, $x); mmx!(v, I, $l); )* };
        }
        bm!(pshufb vpshufb, punpcklbw vpunpcklbw, punpcklwd vpunpcklwd, punpckldq vpunpckldq,
            punpckhbw vpunpckhbw, punpckhwd vpunpckhwd, punpckhdq vpunpckhdq,
            packsswb vpacksswb, packuswb vpackuswb, packssdw vpackssdw);
        bin!(v, I, punpcklqdq, vpunpcklqdq);
        bin!(v, I, punpckhqdq, vpunpckhqdq);
        bin!(v, I, packusdw, vpackusdw);
        bin_i!(v, I, palignr, vpalignr, 5);
        bin_i!(v, I, palignr, vpalignr, 20);
        v.push(mcase("palignr mm 3", G::I, |a| a.palignr(mm0, mm1, 3)));
        v.push(mcase("palignr mm 12", G::I, |a| {
            a.palignr(mm0, qword_ptr(rsi + MEM), 12)
        }));
        un_i!(v, I, pshufd, vpshufd, 0x1B);
        un_i!(v, I, pshuflw, vpshuflw, 0x9C);
        un_i!(v, I, pshufhw, vpshufhw, 0x4E);
        v.push(mcase("pshufw", G::I, |a| a.pshufw(mm0, mm1, 0x72)));
        bin_i!(v, I, pblendw, vpblendw, 0xA5);
        bin_i!(v, I, mpsadbw, vmpsadbw, 0x05);
        bin_i!(v, I, mpsadbw, vmpsadbw, 0x3A);
        bin_i!(v, S, shufps, vshufps, 0x4B);
        bin_i!(v, D, shufpd, vshufpd, 0x6);
        bin_i!(v, S, blendps, vblendps, 0x5A);
        bin_i!(v, D, blendpd, vblendpd, 0x9);
        bin!(v, S, unpcklps, vunpcklps);
        bin!(v, S, unpckhps, vunpckhps);
        bin!(v, D, unpcklpd, vunpcklpd);
        bin!(v, D, unpckhpd, vunpckhpd);
        un!(v, S, movsldup, vmovsldup);
        un!(v, S, movshdup, vmovshdup);
        v.push(case("movddup x,x", G::D, |a| a.movddup(xmm0, xmm1)));
        v.push(case("movddup x,m", G::D, |a| {
            a.movddup(xmm0, qword_ptr(rsi + MEM))
        }));
        v.push(case("vmovddup y,m", G::D, |a| {
            a.vmovddup(ymm0, ymmword_ptr(rsi + MEM))
        }));
        bin_i!(v, S, insertps, vinsertps, 0x9A, 128);
        bin_i!(v, S, insertps, vinsertps, 0x71, 128);
        un!(v, I, phminposuw, vphminposuw, 128);
        // Variable blends: legacy mask is XMM0.
        v.push(case("blendvps", G::S, |a| a.blendvps(xmm1, xmm2)));
        v.push(case("blendvpd m", G::D, |a| {
            a.blendvpd(xmm1, xmmword_ptr(rsi + MEM))
        }));
        v.push(case("pblendvb", G::I, |a| a.pblendvb(xmm3, xmm2)));
        v.push(case("vblendvps x", G::S, |a| {
            a.vblendvps(xmm0, xmm1, xmm2, xmm3)
        }));
        v.push(case("vblendvpd y", G::D, |a| {
            a.vblendvpd(ymm0, ymm1, ymm2, ymm3)
        }));
        v.push(case("vpblendvb y m", G::I, |a| {
            a.vpblendvb(ymm0, ymm1, ymmword_ptr(rsi + MEM), ymm3)
        }));
        v.push(case("vpblendd y", G::I, |a| {
            a.vpblendd(ymm0, ymm1, ymm2, 0x96)
        }));
        macro_rules! px {
            ($($l:ident $x:ident $p:ident),*) => { $(
                v.push(case(nm!($l, "x,x"), G::I, |a| a.$l(xmm0, xmm1)));
                v.push(case(nm!($l, "x,m"), G::I, |a| a.$l(xmm0, $p(rsi + MEM))));
                v.push(case(nm!($x, "x,x"), G::I, |a| a.$x(xmm0, xmm1)));
                v.push(case(nm!($x, "y,x"), G::I, |a| a.$x(ymm0, xmm1)));
                v.push(case(nm!($x, "y,m"), G::I, |a| a.$x(ymm0, xmmword_ptr(rsi + MEM))));
            )* };
        }
        px!(pmovzxbw vpmovzxbw qword_ptr, pmovzxbd vpmovzxbd dword_ptr,
            pmovzxbq vpmovzxbq word_ptr, pmovzxwd vpmovzxwd qword_ptr,
            pmovzxwq vpmovzxwq dword_ptr, pmovzxdq vpmovzxdq qword_ptr,
            pmovsxbw vpmovsxbw qword_ptr, pmovsxbd vpmovsxbd dword_ptr,
            pmovsxbq vpmovsxbq word_ptr, pmovsxwd vpmovsxwd qword_ptr,
            pmovsxwq vpmovsxwq dword_ptr, pmovsxdq vpmovsxdq qword_ptr);
        check(&v, n());
    }

    #[test]
    fn float_arithmetic_matches_host() {
        if skip() {
            return;
        }
        let mut v = Vec::new();
        macro_rules! ps {
            ($($l:ident $x:ident),*) => { $( bin!(v, S, $l, $x); )* };
        }
        macro_rules! pd {
            ($($l:ident $x:ident),*) => { $( bin!(v, D, $l, $x); )* };
        }
        ps!(addps vaddps, subps vsubps, mulps vmulps, divps vdivps, minps vminps,
            maxps vmaxps, andps vandps, andnps vandnps, orps vorps, xorps vxorps,
            addsubps vaddsubps, haddps vhaddps, hsubps vhsubps);
        pd!(addpd vaddpd, subpd vsubpd, mulpd vmulpd, divpd vdivpd, minpd vminpd,
            maxpd vmaxpd, andpd vandpd, andnpd vandnpd, orpd vorpd, xorpd vxorpd,
            addsubpd vaddsubpd, haddpd vhaddpd, hsubpd vhsubpd);
        sca!(v, S, addss, vaddss, dword_ptr);
        sca!(v, S, subss, vsubss, dword_ptr);
        sca!(v, S, mulss, vmulss, dword_ptr);
        sca!(v, S, divss, vdivss, dword_ptr);
        sca!(v, S, minss, vminss, dword_ptr);
        sca!(v, S, maxss, vmaxss, dword_ptr);
        sca!(v, S, sqrtss, vsqrtss, dword_ptr);
        sca!(v, D, addsd, vaddsd, qword_ptr);
        sca!(v, D, subsd, vsubsd, qword_ptr);
        sca!(v, D, mulsd, vmulsd, qword_ptr);
        sca!(v, D, divsd, vdivsd, qword_ptr);
        sca!(v, D, minsd, vminsd, qword_ptr);
        sca!(v, D, maxsd, vmaxsd, qword_ptr);
        sca!(v, D, sqrtsd, vsqrtsd, qword_ptr);
        un!(v, S, sqrtps, vsqrtps);
        un!(v, D, sqrtpd, vsqrtpd);
        bin_i!(v, S, cmpps, vcmpps, 1, 128);
        bin_i!(v, S, cmpps, vcmpps, 3, 128);
        bin_i!(v, S, cmpps, vcmpps, 6, 128);
        bin_i!(v, D, cmppd, vcmppd, 4, 128);
        bin_i!(v, D, cmppd, vcmppd, 7, 128);
        v.push(case("vcmpps y 0x1d", G::S, |a| {
            a.vcmpps(ymm0, ymm1, ymm2, 0x1D)
        }));
        v.push(case("vcmppd y 0x18", G::D, |a| {
            a.vcmppd(ymm0, ymm1, ymm2, 0x18)
        }));
        v.push(case("vcmpps x 0x0b", G::S, |a| {
            a.vcmpps(xmm0, xmm1, xmm2, 0x0B)
        }));
        v.push(case("vcmpps x 0x11", G::S, |a| {
            a.vcmpps(xmm0, xmm1, xmm2, 0x11)
        }));
        sca!(v, S, cmpss, vcmpss, dword_ptr, 2);
        sca!(v, D, cmpsd_3, vcmpsd, qword_ptr, 5);
        bin_i!(v, S, dpps, vdpps, 0xF1, 128);
        bin_i!(v, S, dpps, vdpps, 0x7E, 128);
        v.push(case("vdpps y", G::S, |a| a.vdpps(ymm0, ymm1, ymm2, 0xB3)));
        bin_i!(v, D, dppd, vdppd, 0x31, 128);
        bin_i!(v, D, dppd, vdppd, 0x33, 128);
        bin_i!(v, D, dppd, vdppd, 0x12, 128);
        un_i!(v, S, roundps, vroundps, 0);
        un_i!(v, S, roundps, vroundps, 0xB);
        un_i!(v, D, roundpd, vroundpd, 0x4);
        un_i!(v, D, roundpd, vroundpd, 0x9);
        sca!(v, S, roundss, vroundss, dword_ptr, 1);
        sca!(v, D, roundsd, vroundsd, qword_ptr, 0xE);
        macro_rules! comi {
            ($($l:ident $x:ident $g:ident $p:ident),*) => { $(
                v.push(case(nm!($l, "x,x"), G::$g, |a| a.$l(xmm0, xmm1)));
                v.push(case(nm!($l, "x,m"), G::$g, |a| a.$l(xmm1, $p(rsi + MEM))));
                v.push(case(nm!($x, "x,x"), G::$g, |a| a.$x(xmm2, xmm3)));
            )* };
        }
        comi!(comiss vcomiss S dword_ptr, ucomiss vucomiss S dword_ptr,
              comisd vcomisd D qword_ptr, ucomisd vucomisd D qword_ptr);
        check(&v, n());
    }

    #[test]
    fn conversions_match_host() {
        if skip() {
            return;
        }
        let mut v = Vec::new();
        un!(v, I, cvtdq2ps, vcvtdq2ps);
        un!(v, S, cvtps2dq, vcvtps2dq);
        un!(v, S, cvttps2dq, vcvttps2dq);
        macro_rules! wide {
            ($($l:ident $x:ident $g:ident),*) => { $(
                v.push(case(nm!($l, "x,x"), G::$g, |a| a.$l(xmm0, xmm1)));
                v.push(case(nm!($l, "x,m"), G::$g, |a| a.$l(xmm0, qword_ptr(rsi + MEM))));
                v.push(case(nm!($x, "x,x"), G::$g, |a| a.$x(xmm0, xmm1)));
                v.push(case(nm!($x, "y,x"), G::$g, |a| a.$x(ymm0, xmm1)));
                v.push(case(nm!($x, "y,m"), G::$g, |a| a.$x(ymm0, xmmword_ptr(rsi + MEM))));
            )* };
        }
        wide!(cvtdq2pd vcvtdq2pd I, cvtps2pd vcvtps2pd S);
        macro_rules! narrow {
            ($($l:ident $x:ident $g:ident),*) => { $(
                v.push(case(nm!($l, "x,x"), G::$g, |a| a.$l(xmm0, xmm1)));
                v.push(case(nm!($l, "x,m"), G::$g, |a| a.$l(xmm0, xmmword_ptr(rsi + MEM))));
                v.push(case(nm!($x, "x,x"), G::$g, |a| a.$x(xmm0, xmm1)));
                v.push(case(nm!($x, "x,y"), G::$g, |a| a.$x(xmm0, ymm1)));
                v.push(case(nm!($x, "x,m256"), G::$g, |a| a.$x(xmm0, ymmword_ptr(rsi + MEM))));
            )* };
        }
        narrow!(cvtpd2dq vcvtpd2dq D, cvttpd2dq vcvttpd2dq D, cvtpd2ps vcvtpd2ps D);
        sca!(v, S, cvtss2sd, vcvtss2sd, dword_ptr);
        sca!(v, D, cvtsd2ss, vcvtsd2ss, qword_ptr);
        macro_rules! si2 {
            ($($l:ident $x:ident),*) => { $(
                v.push(case(nm!($l, "x,eax"), G::I, |a| a.$l(xmm0, eax)));
                v.push(case(nm!($l, "x,rcx"), G::I, |a| a.$l(xmm0, rcx)));
                v.push(case(nm!($l, "x,m32"), G::I, |a| a.$l(xmm0, dword_ptr(rsi + MEM))));
                v.push(case(nm!($l, "x,m64"), G::I, |a| a.$l(xmm0, qword_ptr(rsi + MEM))));
                v.push(case(nm!($x, "x,x,rdx"), G::I, |a| a.$x(xmm0, xmm1, rdx)));
                v.push(case(nm!($x, "x,x,m32"), G::I, |a| a.$x(xmm0, xmm1, dword_ptr(rsi + MEM))));
            )* };
        }
        si2!(cvtsi2ss vcvtsi2ss, cvtsi2sd vcvtsi2sd);
        macro_rules! tosi {
            ($($l:ident $x:ident $g:ident $p:ident),*) => { $(
                v.push(case(nm!($l, "eax,x"), G::$g, |a| a.$l(eax, xmm1)));
                v.push(case(nm!($l, "rcx,x"), G::$g, |a| a.$l(rcx, xmm2)));
                v.push(case(nm!($l, "edx,m"), G::$g, |a| a.$l(edx, $p(rsi + MEM))));
                v.push(case(nm!($x, "rbx,x"), G::$g, |a| a.$x(rbx, xmm3)));
            )* };
        }
        tosi!(cvtss2si vcvtss2si S dword_ptr, cvttss2si vcvttss2si S dword_ptr,
              cvtsd2si vcvtsd2si D qword_ptr, cvttsd2si vcvttsd2si D qword_ptr);
        v.push(mcase("cvtpi2ps x,mm", G::I, |a| a.cvtpi2ps(xmm0, mm1)));
        v.push(mcase("cvtpi2ps x,m", G::I, |a| {
            a.cvtpi2ps(xmm0, qword_ptr(rsi + MEM))
        }));
        v.push(mcase("cvtpi2pd x,mm", G::I, |a| a.cvtpi2pd(xmm0, mm1)));
        v.push(mcase("cvtps2pi mm,x", G::S, |a| a.cvtps2pi(mm0, xmm1)));
        v.push(mcase("cvttps2pi mm,m", G::S, |a| {
            a.cvttps2pi(mm0, qword_ptr(rsi + MEM))
        }));
        v.push(mcase("cvtpd2pi mm,x", G::D, |a| a.cvtpd2pi(mm0, xmm1)));
        v.push(mcase("cvttpd2pi mm,m", G::D, |a| {
            a.cvttpd2pi(mm1, xmmword_ptr(rsi + MEM))
        }));
        v.push(case("vcvtph2ps x,x", G::I, |a| a.vcvtph2ps(xmm0, xmm1)));
        v.push(case("vcvtph2ps x,m", G::I, |a| {
            a.vcvtph2ps(xmm0, qword_ptr(rsi + MEM))
        }));
        v.push(case("vcvtph2ps y,x", G::I, |a| a.vcvtph2ps(ymm0, xmm1)));
        v.push(case("vcvtph2ps y,m", G::S, |a| {
            a.vcvtph2ps(ymm0, xmmword_ptr(rsi + MEM))
        }));
        v.push(case("vcvtps2ph x,x,0", G::S, |a| {
            a.vcvtps2ph(xmm0, xmm1, 0)
        }));
        v.push(case("vcvtps2ph x,y,4", G::S, |a| {
            a.vcvtps2ph(xmm0, ymm1, 4)
        }));
        v.push(case("vcvtps2ph x,x,1", G::S, |a| {
            a.vcvtps2ph(xmm0, xmm1, 1)
        }));
        v.push(case("vcvtps2ph x,x,2", G::S, |a| {
            a.vcvtps2ph(xmm0, xmm1, 2)
        }));
        v.push(case("vcvtps2ph x,x,3", G::S, |a| {
            a.vcvtps2ph(xmm0, xmm1, 3)
        }));
        v.push(case("vcvtps2ph m,x", G::S, |a| {
            a.vcvtps2ph(qword_ptr(rsi + MEM), xmm1, 0)
        }));
        v.push(case("vcvtps2ph m,y", G::S, |a| {
            a.vcvtps2ph(xmmword_ptr(rsi + MEM), ymm1, 0)
        }));
        check(&v, n());
    }

    #[test]
    fn moves_match_host() {
        if skip() {
            return;
        }
        let mut v = Vec::new();
        macro_rules! mv {
            ($($l:ident $x:ident),*) => { $(
                v.push(case(nm!($l, "x,x"), G::I, |a| a.$l(xmm0, xmm1)));
                v.push(case(nm!($l, "x,m"), G::I, |a| a.$l(xmm0, xmmword_ptr(rsi + MEM))));
                v.push(case(nm!($l, "m,x"), G::I, |a| a.$l(xmmword_ptr(rsi + MEM + 32), xmm1)));
                v.push(case(nm!($x, "x,x"), G::I, |a| a.$x(xmm0, xmm1)));
                v.push(case(nm!($x, "y,y"), G::I, |a| a.$x(ymm0, ymm1)));
                v.push(case(nm!($x, "x,m"), G::I, |a| a.$x(xmm0, xmmword_ptr(rsi + MEM))));
                v.push(case(nm!($x, "y,m"), G::I, |a| a.$x(ymm0, ymmword_ptr(rsi + MEM))));
                v.push(case(nm!($x, "m,y"), G::I, |a| a.$x(ymmword_ptr(rsi + MEM + 64), ymm1)));
                v.push(case(nm!($x, "m,x"), G::I, |a| a.$x(xmmword_ptr(rsi + MEM + 16), xmm2)));
            )* };
        }
        mv!(movaps vmovaps, movapd vmovapd, movdqa vmovdqa, movups vmovups, movupd vmovupd,
            movdqu vmovdqu);
        v.push(case("movntdq", G::I, |a| {
            a.movntdq(xmmword_ptr(rsi + MEM), xmm1)
        }));
        v.push(case("vmovntps y", G::I, |a| {
            a.vmovntps(ymmword_ptr(rsi + MEM), ymm1)
        }));
        v.push(case("movntdqa", G::I, |a| {
            a.movntdqa(xmm1, xmmword_ptr(rsi + MEM))
        }));
        v.push(case("vmovntdqa y", G::I, |a| {
            a.vmovntdqa(ymm1, ymmword_ptr(rsi + MEM))
        }));
        v.push(case("lddqu", G::I, |a| {
            a.lddqu(xmm1, xmmword_ptr(rsi + MEM + 3))
        }));
        v.push(case("vmovdqu y unaligned", G::I, |a| {
            a.vmovdqu(ymm1, ymmword_ptr(rsi + MEM + 7))
        }));
        macro_rules! ms {
            ($($l:ident $x:ident $x3:ident $p:ident),*) => { $(
                v.push(case(nm!($l, "x,x"), G::I, |a| a.$l(xmm0, xmm1)));
                v.push(case(nm!($l, "x,m"), G::I, |a| a.$l(xmm0, $p(rsi + MEM))));
                v.push(case(nm!($l, "m,x"), G::I, |a| a.$l($p(rsi + MEM + 8), xmm1)));
                v.push(case(nm!($x3, "x,x,x"), G::I, |a| a.$x3(xmm0, xmm1, xmm2)));
                v.push(case(nm!($x, "x,m"), G::I, |a| a.$x(xmm0, $p(rsi + MEM))));
                v.push(case(nm!($x, "m,x"), G::I, |a| a.$x($p(rsi + MEM + 8), xmm1)));
            )* };
        }
        ms!(movss vmovss vmovss_3 dword_ptr, movsd_2 vmovsd vmovsd_3 qword_ptr);
        macro_rules! half {
            ($($l:ident $x:ident $x3:ident),*) => { $(
                v.push(case(nm!($l, "x,m"), G::I, |a| a.$l(xmm0, qword_ptr(rsi + MEM))));
                v.push(case(nm!($l, "m,x"), G::I, |a| a.$l(qword_ptr(rsi + MEM + 8), xmm1)));
                v.push(case(nm!($x3, "x,x,m"), G::I, |a| a.$x3(xmm0, xmm1, qword_ptr(rsi + MEM))));
                v.push(case(nm!($x, "m,x"), G::I, |a| a.$x(qword_ptr(rsi + MEM + 8), xmm1)));
            )* };
        }
        half!(movlps vmovlps vmovlps_3, movhps vmovhps vmovhps_3, movlpd vmovlpd vmovlpd_3,
              movhpd vmovhpd vmovhpd_3);
        v.push(case("movhlps", G::I, |a| a.movhlps(xmm0, xmm1)));
        v.push(case("movlhps", G::I, |a| a.movlhps(xmm0, xmm1)));
        v.push(case("vmovhlps", G::I, |a| a.vmovhlps(xmm0, xmm1, xmm2)));
        v.push(case("vmovlhps", G::I, |a| a.vmovlhps(xmm0, xmm1, xmm2)));
        v.push(case("movd x,eax", G::I, |a| a.movd(xmm0, eax)));
        v.push(case("movd x,m", G::I, |a| {
            a.movd(xmm0, dword_ptr(rsi + MEM))
        }));
        v.push(case("movd ecx,x", G::I, |a| a.movd(ecx, xmm1)));
        v.push(case("movd m,x", G::I, |a| {
            a.movd(dword_ptr(rsi + MEM), xmm1)
        }));
        v.push(case("movq x,rax", G::I, |a| a.movq(xmm0, rax)));
        v.push(case("movq rdx,x", G::I, |a| a.movq(rdx, xmm2)));
        v.push(case("movq x,x", G::I, |a| a.movq(xmm0, xmm1)));
        v.push(case("movq x,m", G::I, |a| {
            a.movq(xmm0, qword_ptr(rsi + MEM))
        }));
        v.push(case("movq m,x", G::I, |a| {
            a.movq(qword_ptr(rsi + MEM), xmm3)
        }));
        v.push(case("vmovd x,eax", G::I, |a| a.vmovd(xmm0, eax)));
        v.push(case("vmovq x,rcx", G::I, |a| a.vmovq(xmm0, rcx)));
        v.push(case("vmovq x,x", G::I, |a| a.vmovq(xmm0, xmm1)));
        v.push(case("vmovq rbx,x", G::I, |a| a.vmovq(rbx, xmm1)));
        v.push(mcase("movd mm,eax", G::I, |a| a.movd(mm0, eax)));
        v.push(mcase("movq mm,rcx", G::I, |a| a.movq(mm1, rcx)));
        v.push(mcase("movd edx,mm", G::I, |a| a.movd(edx, mm2)));
        v.push(mcase("movq rbx,mm", G::I, |a| a.movq(rbx, mm3)));
        v.push(mcase("movq mm,mm", G::I, |a| a.movq(mm0, mm3)));
        v.push(mcase("movq mm,m", G::I, |a| {
            a.movq(mm0, qword_ptr(rsi + MEM))
        }));
        v.push(mcase("movq m,mm", G::I, |a| {
            a.movq(qword_ptr(rsi + MEM), mm1)
        }));
        v.push(mcase("movq2dq", G::I, |a| a.movq2dq(xmm0, mm1)));
        v.push(mcase("movdq2q", G::I, |a| a.movdq2q(mm0, xmm1)));
        v.push(mcase("movntq", G::I, |a| {
            a.movntq(qword_ptr(rsi + MEM), mm1)
        }));
        v.push(case("movnti", G::I, |a| {
            a.movnti(qword_ptr(rsi + MEM), rcx)
        }));
        v.push(case("maskmovdqu", G::I, |a| a.maskmovdqu(xmm1, xmm2)));
        v.push(case("vmaskmovdqu", G::I, |a| a.vmaskmovdqu(xmm2, xmm3)));
        v.push(mcase("maskmovq", G::I, |a| a.maskmovq(mm1, mm2)));
        v.push(case("movmskps", G::S, |a| a.movmskps(eax, xmm1)));
        v.push(case("movmskpd", G::D, |a| a.movmskpd(ecx, xmm1)));
        v.push(case("vmovmskps y", G::S, |a| a.vmovmskps(edx, ymm1)));
        v.push(case("vmovmskpd y", G::D, |a| a.vmovmskpd(rbx, ymm2)));
        v.push(case("pmovmskb", G::I, |a| a.pmovmskb(eax, xmm1)));
        v.push(case("vpmovmskb y", G::I, |a| a.vpmovmskb(eax, ymm1)));
        v.push(mcase("pmovmskb mm", G::I, |a| a.pmovmskb(ecx, mm1)));
        v.push(case("pextrb r", G::I, |a| a.pextrb(eax, xmm1, 13)));
        v.push(case("pextrb m", G::I, |a| {
            a.pextrb(byte_ptr(rsi + MEM), xmm1, 6)
        }));
        v.push(case("pextrw r", G::I, |a| a.pextrw(ecx, xmm1, 5)));
        v.push(case("pextrw m", G::I, |a| {
            a.pextrw(word_ptr(rsi + MEM), xmm1, 2)
        }));
        v.push(case("pextrd", G::I, |a| a.pextrd(edx, xmm1, 3)));
        v.push(case("pextrq", G::I, |a| a.pextrq(rbx, xmm1, 1)));
        v.push(case("extractps m", G::S, |a| {
            a.extractps(dword_ptr(rsi + MEM), xmm1, 2)
        }));
        v.push(case("vpextrq", G::I, |a| {
            a.vpextrq(qword_ptr(rsi + MEM), xmm2, 1)
        }));
        v.push(mcase("pextrw mm", G::I, |a| a.pextrw(eax, mm1, 2)));
        v.push(case("pinsrb", G::I, |a| a.pinsrb(xmm0, eax, 9)));
        v.push(case("pinsrw m", G::I, |a| {
            a.pinsrw(xmm0, word_ptr(rsi + MEM), 6)
        }));
        v.push(case("pinsrd", G::I, |a| a.pinsrd(xmm0, ecx, 2)));
        v.push(case("pinsrq m", G::I, |a| {
            a.pinsrq(xmm0, qword_ptr(rsi + MEM), 1)
        }));
        v.push(case("vpinsrd", G::I, |a| a.vpinsrd(xmm0, xmm1, edx, 1)));
        v.push(case("vpinsrb m", G::I, |a| {
            a.vpinsrb(xmm0, xmm1, byte_ptr(rsi + MEM), 15)
        }));
        v.push(mcase("pinsrw mm", G::I, |a| a.pinsrw(mm0, eax, 3)));
        check(&v, n());
    }

    #[test]
    fn avx_lane_ops_match_host() {
        if skip() {
            return;
        }
        let mut v = Vec::new();
        v.push(case("vbroadcastss x,m", G::S, |a| {
            a.vbroadcastss(xmm0, dword_ptr(rsi + MEM))
        }));
        v.push(case("vbroadcastss y,x", G::S, |a| {
            a.vbroadcastss(ymm0, xmm1)
        }));
        v.push(case("vbroadcastsd y,m", G::D, |a| {
            a.vbroadcastsd(ymm0, qword_ptr(rsi + MEM))
        }));
        v.push(case("vbroadcastsd y,x", G::D, |a| {
            a.vbroadcastsd(ymm0, xmm2)
        }));
        v.push(case("vbroadcastf128", G::I, |a| {
            a.vbroadcastf128(ymm0, xmmword_ptr(rsi + MEM))
        }));
        v.push(case("vbroadcasti128", G::I, |a| {
            a.vbroadcasti128(ymm1, xmmword_ptr(rsi + MEM))
        }));
        macro_rules! pb {
            ($($x:ident $p:ident),*) => { $(
                v.push(case(nm!($x, "x,x"), G::I, |a| a.$x(xmm0, xmm1)));
                v.push(case(nm!($x, "y,x"), G::I, |a| a.$x(ymm0, xmm1)));
                v.push(case(nm!($x, "y,m"), G::I, |a| a.$x(ymm0, $p(rsi + MEM))));
            )* };
        }
        pb!(vpbroadcastb byte_ptr, vpbroadcastw word_ptr, vpbroadcastd dword_ptr,
            vpbroadcastq qword_ptr);
        v.push(case("vinsertf128", G::I, |a| {
            a.vinsertf128(ymm0, ymm1, xmm2, 1)
        }));
        v.push(case("vinserti128 m", G::I, |a| {
            a.vinserti128(ymm0, ymm1, xmmword_ptr(rsi + MEM), 0)
        }));
        v.push(case("vextractf128", G::I, |a| {
            a.vextractf128(xmm0, ymm1, 1)
        }));
        v.push(case("vextracti128 m", G::I, |a| {
            a.vextracti128(xmmword_ptr(rsi + MEM), ymm2, 1)
        }));
        v.push(case("vperm2f128", G::I, |a| {
            a.vperm2f128(ymm0, ymm1, ymm2, 0x21)
        }));
        v.push(case("vperm2i128 m", G::I, |a| {
            a.vperm2i128(ymm0, ymm1, ymmword_ptr(rsi + MEM), 0x83)
        }));
        v.push(case("vpermq", G::I, |a| a.vpermq(ymm0, ymm1, 0x1B)));
        v.push(case("vpermpd m", G::D, |a| {
            a.vpermpd(ymm0, ymmword_ptr(rsi + MEM), 0xD2)
        }));
        v.push(case("vpermd", G::I, |a| a.vpermd(ymm0, ymm1, ymm2)));
        v.push(case("vpermps m", G::S, |a| {
            a.vpermps(ymm0, ymm1, ymmword_ptr(rsi + MEM))
        }));
        v.push(case("vpermilps i x", G::S, |a| {
            a.vpermilps(xmm0, xmm1, 0x8D)
        }));
        v.push(case("vpermilps i y", G::S, |a| {
            a.vpermilps(ymm0, ymm1, 0x2E)
        }));
        v.push(case("vpermilpd i y", G::D, |a| {
            a.vpermilpd(ymm0, ymm1, 0x5)
        }));
        v.push(case("vpermilps v y", G::I, |a| {
            a.vpermilps(ymm0, ymm1, ymm2)
        }));
        v.push(case("vpermilpd v x", G::I, |a| {
            a.vpermilpd(xmm0, xmm1, xmm2)
        }));
        v.push(case("vmaskmovps ld", G::I, |a| {
            a.vmaskmovps(ymm0, ymm1, ymmword_ptr(rsi + MEM))
        }));
        v.push(case("vmaskmovpd ld", G::I, |a| {
            a.vmaskmovpd(xmm0, xmm1, xmmword_ptr(rsi + MEM))
        }));
        v.push(case("vpmaskmovd st", G::I, |a| {
            a.vpmaskmovd(ymmword_ptr(rsi + MEM), ymm1, ymm2)
        }));
        v.push(case("vpmaskmovq st", G::I, |a| {
            a.vpmaskmovq(xmmword_ptr(rsi + MEM), xmm1, xmm2)
        }));
        v.push(case("ptest", G::I, |a| a.ptest(xmm0, xmm1)));
        v.push(case("ptest m", G::I, |a| {
            a.ptest(xmm0, xmmword_ptr(rsi + MEM))
        }));
        v.push(case("vptest y", G::I, |a| a.vptest(ymm0, ymm1)));
        v.push(case("vtestps y", G::I, |a| a.vtestps(ymm0, ymm1)));
        v.push(case("vtestpd x", G::I, |a| a.vtestpd(xmm0, xmm1)));
        v.push(case("vzeroupper", G::I, |a| a.vzeroupper()));
        v.push(case("vzeroall", G::I, |a| a.vzeroall()));
        check(&v, n());
    }

    #[test]
    fn gathers_and_high_registers_match_host() {
        if skip() {
            return;
        }
        let mut v = Vec::new();
        // Indices are clamped into the 256-byte memory block first.
        v.push(case("vgatherdps y", G::S, |a| {
            a.vpsrld(ymm1, ymm1, 27)?;
            a.vgatherdps_3(ymm0, ptr(rdi + ymm1 * 4), ymm2)
        }));
        v.push(case("vpgatherdd x", G::I, |a| {
            a.vpsrld(xmm1, xmm1, 26)?;
            a.vpgatherdd_3(xmm0, ptr(rdi + xmm1 * 2 + 4), xmm2)
        }));
        v.push(case("vgatherdpd y", G::D, |a| {
            a.vpsrld(xmm1, xmm1, 27)?;
            a.vgatherdpd_3(ymm0, ptr(rdi + xmm1 * 8 - 0), ymm3)
        }));
        v.push(case("vgatherqps x(y)", G::S, |a| {
            a.vpsrlq(ymm1, ymm1, 59)?;
            a.vgatherqps_3(xmm0, ptr(rdi + ymm1 * 4), xmm2)
        }));
        v.push(case("vpgatherqq x", G::I, |a| {
            a.vpsrlq(xmm1, xmm1, 59)?;
            a.vpgatherqq_3(xmm0, ptr(rdi + xmm1 * 8), xmm3)
        }));
        v.push(case("vpgatherqd x", G::I, |a| {
            a.vpsrlq(xmm1, xmm1, 59)?;
            a.vpgatherqd_3(xmm0, ptr(rdi + xmm1 * 4), xmm2)
        }));
        // Registers 8-15 (REX.R/B, VEX.R/B/X and vvvv bit 3).
        v.push(case("hi paddb", G::I, |a| {
            a.movdqa(xmm10, xmm1)?;
            a.movdqa(xmm13, xmm2)?;
            a.paddb(xmm10, xmm13)?;
            a.movdqa(xmm0, xmm10)
        }));
        v.push(case("hi vpmaddwd y", G::I, |a| {
            a.vmovdqa(ymm9, ymm1)?;
            a.vpmaddwd(ymm15, ymm9, ymm2)?;
            a.vmovdqa(ymm0, ymm15)
        }));
        v.push(case("hi mem r9+r10", G::S, |a| {
            a.mov(r9, rdi)?;
            a.mov(r10, 2u64)?;
            a.vaddps(ymm11, ymm1, ymmword_ptr(r9 + r10 * 8))?;
            a.vmovaps(ymm0, ymm11)
        }));
        v.push(case("hi movq r13,xmm12", G::I, |a| {
            a.movq(xmm12, rax)?;
            a.pinsrq(xmm12, rcx, 1)?;
            a.movdqa(xmm0, xmm12)?;
            a.movq(r13, xmm12)?;
            a.mov(rdx, r13)
        }));
        check(&v, n());
    }

    #[test]
    fn string_compares_match_host() {
        if skip() {
            return;
        }
        let mut v = Vec::new();
        macro_rules! sc {
            ($($i:expr),*) => { $(
                v.push(case(concat!("pcmpistri ", stringify!($i)), G::Str, |a| a.pcmpistri(xmm0, xmm1, $i)));
                v.push(case(concat!("pcmpistrm ", stringify!($i)), G::Str, |a| a.pcmpistrm(xmm1, xmmword_ptr(rsi + MEM), $i)));
                v.push(case(concat!("pcmpestri ", stringify!($i)), G::Str, |a| a.pcmpestri(xmm2, xmm1, $i)));
                v.push(case(concat!("pcmpestrm ", stringify!($i)), G::Str, |a| a.pcmpestrm(xmm2, xmmword_ptr(rsi + MEM + 5), $i)));
                v.push(case(concat!("vpcmpistri ", stringify!($i)), G::Str, |a| a.vpcmpistri(xmm3, xmm1, $i)));
                v.push(case(concat!("vpcmpestrm ", stringify!($i)), G::Str, |a| a.vpcmpestrm(xmm3, xmm2, $i)));
            )* };
        }
        sc!(
            0x00, 0x04, 0x08, 0x0C, 0x18, 0x1A, 0x3A, 0x44, 0x4C, 0x01, 0x11, 0x0D, 0x70, 0x36,
            0x2E, 0x55, 0x7B, 0x62
        );
        v.push(case("pcmpestri64", G::Str, |a| {
            a.pcmpestri64(xmm0, xmm1, 0x0C)
        }));
        check(&v, n());
    }

    #[test]
    fn aes_and_clmul_match_host() {
        if skip() {
            return;
        }
        let mut v = Vec::new();
        bin!(v, I, aesenc, vaesenc, 128);
        bin!(v, I, aesenclast, vaesenclast, 128);
        bin!(v, I, aesdec, vaesdec, 128);
        bin!(v, I, aesdeclast, vaesdeclast, 128);
        un!(v, I, aesimc, vaesimc, 128);
        v.push(case("aeskeygenassist", G::I, |a| {
            a.aeskeygenassist(xmm0, xmm1, 0x1B)
        }));
        v.push(case("vaeskeygenassist", G::I, |a| {
            a.vaeskeygenassist(xmm0, xmm1, 0x80)
        }));
        bin_i!(v, I, pclmulqdq, vpclmulqdq, 0x00, 128);
        bin_i!(v, I, pclmulqdq, vpclmulqdq, 0x11, 128);
        v.push(case("pclmulqdq 01", G::I, |a| {
            a.pclmulqdq(xmm0, xmm1, 0x01)
        }));
        v.push(case("pclmulqdq 10", G::I, |a| {
            a.pclmulqdq(xmm0, xmm1, 0x10)
        }));
        check(&v, n());
    }

    #[test]
    fn fma_matches_host() {
        if skip() {
            return;
        }
        let mut v = Vec::new();
        macro_rules! fp {
            ($($x:ident),*) => { $(
                v.push(case(nm!($x, "x,x,x"), G::S, |a| a.$x(xmm0, xmm1, xmm2)));
                v.push(case(nm!($x, "y,y,m"), G::S, |a| a.$x(ymm0, ymm1, ymmword_ptr(rsi + MEM))));
            )* };
        }
        macro_rules! fd {
            ($($x:ident),*) => { $(
                v.push(case(nm!($x, "x,x,m"), G::D, |a| a.$x(xmm0, xmm1, xmmword_ptr(rsi + MEM))));
                v.push(case(nm!($x, "y,y,y"), G::D, |a| a.$x(ymm0, ymm1, ymm2)));
            )* };
        }
        macro_rules! fs {
            ($($x:ident $g:ident $p:ident),*) => { $(
                v.push(case(nm!($x, "x,x,x"), G::$g, |a| a.$x(xmm0, xmm1, xmm2)));
                v.push(case(nm!($x, "x,x,m"), G::$g, |a| a.$x(xmm0, xmm1, $p(rsi + MEM))));
            )* };
        }
        fp!(
            vfmadd132ps,
            vfmadd213ps,
            vfmadd231ps,
            vfmsub132ps,
            vfmsub213ps,
            vfmsub231ps,
            vfnmadd132ps,
            vfnmadd213ps,
            vfnmadd231ps,
            vfnmsub132ps,
            vfnmsub213ps,
            vfnmsub231ps,
            vfmaddsub132ps,
            vfmaddsub213ps,
            vfmaddsub231ps,
            vfmsubadd132ps,
            vfmsubadd213ps,
            vfmsubadd231ps
        );
        fd!(
            vfmadd132pd,
            vfmadd213pd,
            vfmadd231pd,
            vfmsub132pd,
            vfnmadd213pd,
            vfnmsub231pd,
            vfmaddsub213pd,
            vfmsubadd132pd
        );
        fs!(vfmadd132ss S dword_ptr, vfmadd213ss S dword_ptr, vfmadd231ss S dword_ptr,
            vfmsub231ss S dword_ptr, vfnmadd132ss S dword_ptr, vfnmsub213ss S dword_ptr,
            vfmadd132sd D qword_ptr, vfmadd213sd D qword_ptr, vfmadd231sd D qword_ptr,
            vfmsub132sd D qword_ptr, vfnmadd231sd D qword_ptr, vfnmsub132sd D qword_ptr);
        check(&v, n());
    }
}
