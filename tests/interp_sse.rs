//! SIMD instructions in the interpreter.
//!
//! Results are checked against the host CPU: each case is assembled into
//! a frame that loads registers, MXCSR, flags and memory from a block, runs
//! the instruction and stores everything back; the frame runs natively and
//! in the interpreter on the same random inputs (see `sse_oracle`). The
//! exception rules and the state-save instructions, which cannot run
//! natively in user mode, are checked against values from the SDM.

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

/// Exception rules and state-save instructions (interpreter only).
mod rules {
    use super::common::*;
    use iced_x86::code_asm::*;
    use nestor::state::fpu::{F80, FpuState, tag};
    use nestor::state::{cr0, cr4};

    const STUBS: u64 = 0x6000;
    /// Exit value of the exception stubs: 0x100 + vector.
    const EXC: u32 = 0x100;
    const UD: u32 = EXC + 6;
    const NM: u32 = EXC + 7;
    const MF: u32 = EXC + 16;
    const GP: u32 = EXC + 13;
    const XM: u32 = EXC + 19;

    /// A 64-bit harness running `f` then exiting with 0; every exception
    /// vector v exits with 0x100 + v and RBX = the word on top of the
    /// stack (the error code, or the faulting RIP).
    fn rig(model: &str, f: impl FnOnce(&mut CodeAssembler)) -> Harness {
        let code = asm(64, |a| {
            f(a);
            a.mov(eax, 0u32).unwrap();
            a.out(0xF4, eax).unwrap();
        });
        let mut h = Harness::new(model, Mode::Long64, &code);
        let s = &mut h.interp.cpu.s;
        s.cr.cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT | cr4::OSXSAVE;
        s.xcr0 = 7;
        for v in 0..32u64 {
            let stub = STUBS + 16 * v;
            let mut b = vec![0x48, 0x8B, 0x1C, 0x24, 0xB8];
            b.extend_from_slice(&(EXC + v as u32).to_le_bytes());
            b.extend_from_slice(&[0xE7, 0xF4]);
            h.plat.mem.write(stub, &b).unwrap();
            let lo =
                (stub & 0xFFFF) | (0x08 << 16) | (0x8E00u64 << 32) | ((stub >> 16) & 0xFFFF) << 48;
            h.plat.mem.write_u64(IDT + 16 * v, lo).unwrap();
            h.plat.mem.write_u64(IDT + 16 * v + 8, stub >> 32).unwrap();
        }
        h.interp.cpu.s.idtr.base = IDT;
        h.interp.cpu.s.idtr.limit = 32 * 16 - 1;
        h
    }

    fn exit(h: &mut Harness) -> u32 {
        let (r, e) = h.run(10_000);
        e.unwrap_or_else(|| panic!("no exit: {r:?}"))
    }

    fn run(
        model: &str,
        setup: impl FnOnce(&mut Harness),
        f: impl FnOnce(&mut CodeAssembler),
    ) -> (u32, Harness) {
        let mut h = rig(model, f);
        setup(&mut h);
        let e = exit(&mut h);
        (e, h)
    }

    #[test]
    fn sse_needs_osfxsr_and_clear_em_and_ts() {
        let prog = |a: &mut CodeAssembler| {
            a.addps(xmm0, xmm1).unwrap();
        };
        let cases: [(u64, u64, u32); 4] = [
            (0, 0, 0),
            (0, cr4::OSFXSR, UD),
            (cr0::EM, 0, UD),
            (cr0::TS, 0, NM),
        ];
        for (set0, clear4, want) in cases {
            let (e, _) = run(
                "max",
                |h| {
                    h.interp.cpu.s.cr.cr0 |= set0;
                    h.interp.cpu.s.cr.cr4 &= !clear4;
                },
                prog,
            );
            assert_eq!(e, want, "cr0 |= {set0:#x}, cr4 &= !{clear4:#x}");
        }
        // A CPU model without SSE2: PADDQ xmm is #UD.
        let (e, _) = run("max,-sse2", |_| {}, |a| a.paddq(xmm0, xmm1).unwrap());
        assert_eq!(e, UD);
    }

    #[test]
    fn vex_needs_osxsave_and_xcr0_but_not_clear_em() {
        let prog = |a: &mut CodeAssembler| {
            a.vaddps(ymm0, ymm1, ymm2).unwrap();
        };
        assert_eq!(run("max", |_| {}, prog).0, 0);
        assert_eq!(run("max", |h| h.interp.cpu.s.xcr0 = 3, prog).0, UD);
        assert_eq!(
            run("max", |h| h.interp.cpu.s.cr.cr4 &= !cr4::OSXSAVE, prog).0,
            UD
        );
        assert_eq!(run("max", |h| h.interp.cpu.s.cr.cr0 |= cr0::TS, prog).0, NM);
        // CR0.EM and CR4.OSFXSR do not apply to VEX encodings.
        let (e, _) = run(
            "max",
            |h| {
                h.interp.cpu.s.cr.cr0 |= cr0::EM;
                h.interp.cpu.s.cr.cr4 &= !cr4::OSFXSR;
            },
            prog,
        );
        assert_eq!(e, 0);
        // AVX2 integer ops on ymm need AVX2.
        let (e, _) = run("max,-avx2", |_| {}, |a| a.vpaddb(ymm0, ymm1, ymm2).unwrap());
        assert_eq!(e, UD);
        let (e, _) = run("max,-avx2", |_| {}, |a| a.vpaddb(xmm0, xmm1, xmm2).unwrap());
        assert_eq!(e, 0);
    }

    #[test]
    fn alignment_rules() {
        let at = |off: u64| DATA + off;
        type Emit = Box<dyn Fn(&mut CodeAssembler)>;
        let cases: Vec<(&str, Emit, u32)> = vec![
            (
                "movaps load +8",
                Box::new(move |a| a.movaps(xmm0, xmmword_ptr(at(8))).unwrap()),
                GP,
            ),
            (
                "movaps store +4",
                Box::new(move |a| a.movaps(xmmword_ptr(at(4)), xmm0).unwrap()),
                GP,
            ),
            (
                "movups +8",
                Box::new(move |a| a.movups(xmm0, xmmword_ptr(at(8))).unwrap()),
                0,
            ),
            (
                "addps m +8",
                Box::new(move |a| a.addps(xmm0, xmmword_ptr(at(8))).unwrap()),
                GP,
            ),
            (
                "paddb m +1",
                Box::new(move |a| a.paddb(xmm0, xmmword_ptr(at(1))).unwrap()),
                GP,
            ),
            (
                "addss m32 +1",
                Box::new(move |a| a.addss(xmm0, dword_ptr(at(1))).unwrap()),
                0,
            ),
            (
                "vaddps m +8",
                Box::new(move |a| a.vaddps(xmm0, xmm1, xmmword_ptr(at(8))).unwrap()),
                0,
            ),
            (
                "vmovaps x +8",
                Box::new(move |a| a.vmovaps(xmm0, xmmword_ptr(at(8))).unwrap()),
                GP,
            ),
            (
                "vmovaps y +16",
                Box::new(move |a| a.vmovaps(ymm0, ymmword_ptr(at(16))).unwrap()),
                GP,
            ),
            (
                "vmovdqa y store +16",
                Box::new(move |a| a.vmovdqa(ymmword_ptr(at(16)), ymm0).unwrap()),
                GP,
            ),
            (
                "vmovdqu y +16",
                Box::new(move |a| a.vmovdqu(ymm0, ymmword_ptr(at(16))).unwrap()),
                0,
            ),
            (
                "movntdq +8",
                Box::new(move |a| a.movntdq(xmmword_ptr(at(8)), xmm0).unwrap()),
                GP,
            ),
            (
                "pcmpistri m +3",
                Box::new(move |a| a.pcmpistri(xmm0, xmmword_ptr(at(3)), 0).unwrap()),
                0,
            ),
            (
                "fxsave +8",
                Box::new(move |a| a.fxsave64(ptr(at(8))).unwrap()),
                GP,
            ),
            (
                "xsave +16",
                Box::new(move |a| {
                    a.mov(eax, 7u32).unwrap();
                    a.xor(edx, edx).unwrap();
                    a.xsave64(ptr(at(16))).unwrap()
                }),
                GP,
            ),
        ];
        for (name, f, want) in cases {
            let (e, h) = run("max", |_| {}, |a| f(a));
            assert_eq!(e, want, "{name}");
            if want == GP {
                assert_eq!(h.reg(3), 0, "{name}: #GP error code");
            }
        }
    }

    #[test]
    fn ldmxcsr_rejects_reserved_bits() {
        let prog = |a: &mut CodeAssembler| {
            a.mov(rdi, DATA).unwrap();
            a.ldmxcsr(dword_ptr(rdi)).unwrap();
            a.stmxcsr(dword_ptr(rdi + 4)).unwrap();
        };
        let (e, h) = run("max", |h| h.plat.mem.write_u32(DATA, 0xFFC0).unwrap(), prog);
        assert_eq!(e, 0);
        assert_eq!(h.plat.mem.read_u32(DATA + 4).unwrap(), 0xFFC0);
        let (e, h) = run(
            "max",
            |h| h.plat.mem.write_u32(DATA, 0x1_1F80).unwrap(),
            prog,
        );
        assert_eq!(e, GP);
        assert_eq!(h.interp.cpu.s.fpu.mxcsr, 0x1F80);
    }

    #[test]
    fn unmasked_simd_exceptions_raise_xm_or_ud() {
        let prog = |a: &mut CodeAssembler| {
            a.divps(xmm0, xmm1).unwrap();
        };
        let setup = |h: &mut Harness| {
            let f = &mut h.interp.cpu.s.fpu;
            f.mxcsr = 0x1F80 & !0x200; // ZM clear
            f.xmm[0] = [0x3F80_0000_3F80_0000, 0x3F80_0000_3F80_0000];
            f.xmm[1] = [0x4000_0000_0000_0000, 0x4000_0000_4000_0000];
        };
        let (e, h) = run("max", setup, prog);
        assert_eq!(e, XM);
        assert_eq!(h.reg(3), CODE, "#XM is a fault at the DIVPS");
        let f = &h.interp.cpu.s.fpu;
        assert_eq!(
            f.xmm[0],
            [0x3F80_0000_3F80_0000, 0x3F80_0000_3F80_0000],
            "destination unchanged"
        );
        assert_ne!(f.mxcsr & 4, 0, "ZE flag set");
        let (e, _) = run(
            "max",
            |h| {
                setup(h);
                h.interp.cpu.s.cr.cr4 &= !cr4::OSXMMEXCPT;
            },
            prog,
        );
        assert_eq!(e, UD);
        // Masked: quotient +inf, ZE set, no exception.
        let (e, h) = run(
            "max",
            |h| {
                setup(h);
                h.interp.cpu.s.fpu.mxcsr = 0x1F80;
            },
            prog,
        );
        assert_eq!(e, 0);
        assert_eq!(h.interp.cpu.s.fpu.xmm[0][0], 0x3F00_0000_7F80_0000);
        assert_eq!(h.interp.cpu.s.fpu.mxcsr, 0x1F84);
    }

    #[test]
    fn mmx_state_transitions_and_faults() {
        let setup = |h: &mut Harness| {
            let f = &mut h.interp.cpu.s.fpu;
            f.fsw = 5 << 11;
            f.ftw = 0xFFFF;
        };
        let (e, h) = run("max", setup, |a| {
            a.mov(rax, 0x1122_3344_5566_7788u64).unwrap();
            a.movq(mm3, rax).unwrap();
        });
        assert_eq!(e, 0);
        let f = &h.interp.cpu.s.fpu;
        assert_eq!(f.top(), 0, "TOP = 0");
        assert_eq!(f.ftw, 0, "all tags valid");
        assert_eq!(
            f.regs[3],
            F80 {
                significand: 0x1122_3344_5566_7788,
                sign_exp: 0xFFFF
            }
        );
        let (e, h) = run("max", setup, |a| {
            a.paddb(mm0, mm1).unwrap();
            a.emms().unwrap();
        });
        assert_eq!(e, 0);
        assert_eq!(h.interp.cpu.s.fpu.ftw, 0xFFFF, "EMMS empties the tags");
        let prog = |a: &mut CodeAssembler| a.paddb(mm0, mm1).unwrap();
        assert_eq!(run("max", |h| h.interp.cpu.s.cr.cr0 |= cr0::EM, prog).0, UD);
        assert_eq!(run("max", |h| h.interp.cpu.s.cr.cr0 |= cr0::TS, prog).0, NM);
        // MMX does not depend on CR4.OSFXSR.
        assert_eq!(
            run("max", |h| h.interp.cpu.s.cr.cr4 &= !cr4::OSFXSR, prog).0,
            0
        );
        // A pending unmasked x87 exception (FSW.ES) with CR0.NE: #MF.
        assert_eq!(
            run("max", |h| h.interp.cpu.s.fpu.fsw |= 0x80 | 4, prog).0,
            MF
        );
    }

    fn sample_fpu(f: &mut FpuState) {
        f.fcw = 0x027F;
        f.fsw = (3 << 11) | 0x0020;
        // Physical registers 3 and 4 in use (ST0 = R3, ST1 = R4).
        f.ftw = 0xFC3F | (tag::ZERO << 8);
        f.regs[3] = F80 {
            significand: 0xC000_0000_0000_0000,
            sign_exp: 0x4000,
        };
        f.regs[4] = F80 {
            significand: 0,
            sign_exp: 0,
        };
        f.fop = 0x5DB;
        f.fip = 0x1234_5678_9ABC;
        f.fdp = 0x0FED_CBA9_8765;
        f.mxcsr = 0x1FA0;
        for (i, x) in f.xmm.iter_mut().enumerate() {
            *x = [0x0101_0101_0101_0101 * i as u64, !(i as u64)];
        }
        for (i, y) in f.ymm_hi.iter_mut().enumerate() {
            *y = [0xABCD_0000 + i as u64, 0x5555 << i];
        }
    }

    fn q(h: &Harness, off: u64) -> u64 {
        h.plat.mem.read_u64(DATA + off).unwrap()
    }

    /// Emits `out 0xF4, n`: the harness stops with exit value n and can
    /// be resumed after it.
    fn pause(a: &mut CodeAssembler, n: u32) {
        a.mov(eax, n).unwrap();
        a.out(0xF4, eax).unwrap();
    }

    fn resume(h: &mut Harness) -> u32 {
        h.plat.exit = None;
        exit(h)
    }

    #[test]
    fn fxsave_image_and_round_trip() {
        let (e, mut h) = run(
            "max",
            |h| sample_fpu(&mut h.interp.cpu.s.fpu),
            |a| {
                a.mov(rdi, DATA).unwrap();
                a.fxsave64(ptr(rdi)).unwrap();
                a.fxsave(ptr(rdi + 512)).unwrap();
                pause(a, 1);
                a.fxrstor64(ptr(rdi)).unwrap();
                pause(a, 2);
                a.fxrstor(ptr(rdi + 512)).unwrap();
            },
        );
        assert_eq!(e, 1);
        let saved = h.interp.cpu.s.fpu.clone();
        // FCW, FSW, abridged FTW (R3, R4 in use), FOP.
        assert_eq!(
            q(&h, 0),
            0x027F | (0x1820 << 16) | (0x18 << 32) | (0x5DB << 48)
        );
        assert_eq!(q(&h, 8), saved.fip, "64-bit FIP");
        assert_eq!(q(&h, 16), saved.fdp, "64-bit FDP");
        assert_eq!(q(&h, 24), 0x1FA0 | 0xFFFF << 32, "MXCSR, MXCSR_MASK");
        assert_eq!(
            (q(&h, 32), q(&h, 40)),
            (0xC000_0000_0000_0000, 0x4000),
            "ST0 = R3"
        );
        assert_eq!((q(&h, 48), q(&h, 56)), (0, 0), "ST1 = R4");
        assert_eq!(q(&h, 160 + 16 * 15), saved.xmm[15][0]);
        assert_eq!(q(&h, 168 + 16 * 15), saved.xmm[15][1]);
        // 32-bit format: FIP low 32 bits with FCS above, FDP likewise.
        assert_eq!(q(&h, 512 + 8), 0x5678_9ABC);
        assert_eq!(q(&h, 512 + 16), 0xCBA9_8765);
        // Clear everything, restore the 64-bit image.
        h.interp.cpu.s.fpu = FpuState::reset();
        assert_eq!(resume(&mut h), 2);
        let f = &h.interp.cpu.s.fpu;
        assert_eq!(
            (f.fcw, f.fsw, f.fop, f.fip, f.fdp),
            (saved.fcw, saved.fsw, saved.fop, saved.fip, saved.fdp)
        );
        assert_eq!(f.regs, saved.regs);
        assert_eq!(f.xmm, saved.xmm);
        assert_eq!(f.mxcsr, saved.mxcsr);
        // Full tags recomputed from the contents: R3 valid, R4 zero.
        assert_eq!(f.ftw, saved.ftw);
        assert_eq!(
            f.ymm_hi, [[0; 2]; 16],
            "FXRSTOR leaves the upper YMM halves"
        );
        // The 32-bit image restores FIP/FDP as 32-bit offsets.
        assert_eq!(resume(&mut h), 0);
        assert_eq!(h.interp.cpu.s.fpu.fip, 0x5678_9ABC);
    }

    #[test]
    fn fxrstor_rejects_reserved_mxcsr_bits() {
        let (e, h) = run(
            "max",
            |h| {
                h.plat.mem.write_u32(DATA + 24, 0x2_1F80).unwrap();
                h.interp.cpu.s.fpu.xmm[0] = [7, 7];
            },
            |a| {
                a.mov(rdi, DATA).unwrap();
                a.fxrstor64(ptr(rdi)).unwrap();
            },
        );
        assert_eq!(e, GP);
        assert_eq!(h.interp.cpu.s.fpu.xmm[0], [7, 7], "nothing restored");
    }

    /// XSAVE with EDX:EAX = `mask` at DATA, then (after a pause) XRSTOR.
    fn xsave_prog(save: fn(&mut CodeAssembler), mask: u64) -> impl FnOnce(&mut CodeAssembler) {
        move |a| {
            a.mov(rdi, DATA).unwrap();
            a.mov(eax, mask as u32).unwrap();
            a.mov(edx, (mask >> 32) as u32).unwrap();
            save(a);
            pause(a, 1);
            a.mov(eax, mask as u32).unwrap();
            a.mov(edx, (mask >> 32) as u32).unwrap();
            a.xrstor64(ptr(rdi)).unwrap();
        }
    }

    #[test]
    fn xsave_standard_format_round_trip() {
        let (e, mut h) = run(
            "max",
            |h| {
                sample_fpu(&mut h.interp.cpu.s.fpu);
                // Old XSTATE_BV bits outside RFBM survive XSAVE.
                h.plat.mem.write_u64(DATA + 512, 1 << 9).unwrap();
            },
            xsave_prog(|a| a.xsave64(ptr(rdi)).unwrap(), u64::MAX),
        );
        assert_eq!(e, 1);
        let saved = h.interp.cpu.s.fpu.clone();
        assert_eq!(
            q(&h, 512),
            7 | 1 << 9,
            "XSTATE_BV = XINUSE & RFBM | old & ~RFBM"
        );
        assert_eq!(q(&h, 520), 0, "XCOMP_BV untouched");
        assert_eq!(q(&h, 24), 0x1FA0 | 0xFFFF << 32);
        assert_eq!(q(&h, 576), saved.ymm_hi[0][0], "YMM_Hi128 at 576");
        assert_eq!(q(&h, 576 + 16 * 15 + 8), saved.ymm_hi[15][1]);
        h.interp.cpu.s.fpu = FpuState::reset();
        // XCR0 still 7: XSTATE_BV[9] = 1 is harmless for RFBM... but
        // XRSTOR checks XSTATE_BV against XCR0: clear bit 9 first.
        h.plat.mem.write_u64(DATA + 512, 7).unwrap();
        assert_eq!(resume(&mut h), 0);
        let f = &h.interp.cpu.s.fpu;
        assert_eq!(f.xmm, saved.xmm);
        assert_eq!(f.ymm_hi, saved.ymm_hi);
        assert_eq!(f.regs, saved.regs);
        assert_eq!(
            (f.fcw, f.fsw, f.ftw, f.mxcsr),
            (saved.fcw, saved.fsw, saved.ftw, saved.mxcsr)
        );
    }

    #[test]
    fn xrstor_initialises_components_missing_from_xstate_bv() {
        let (e, mut h) = run(
            "max",
            |h| sample_fpu(&mut h.interp.cpu.s.fpu),
            xsave_prog(|a| a.xsave64(ptr(rdi)).unwrap(), 7),
        );
        assert_eq!(e, 1);
        // XSTATE_BV = 0: x87, SSE and AVX initialised; the standard form
        // still loads MXCSR from the image.
        h.plat.mem.write_u64(DATA + 512, 0).unwrap();
        h.plat.mem.write_u32(DATA + 24, 0x3F80).unwrap();
        assert_eq!(resume(&mut h), 0);
        let f = &h.interp.cpu.s.fpu;
        assert!(f.xmm.iter().all(|x| *x == [0, 0]));
        assert!(f.ymm_hi.iter().all(|x| *x == [0, 0]));
        assert_eq!((f.fcw, f.fsw, f.ftw), (0x037F, 0, 0xFFFF));
        assert_eq!(f.mxcsr, 0x3F80);
    }

    #[test]
    fn xrstor_header_checks() {
        type Patch = fn(&mut Harness);
        let cases: [(&str, Patch, u32); 6] = [
            ("valid", |_| {}, 0),
            (
                "XSTATE_BV bit not in XCR0",
                |h| h.plat.mem.write_u64(DATA + 512, 7 | 1 << 9).unwrap(),
                GP,
            ),
            (
                "XCOMP_BV non-zero, standard form",
                |h| h.plat.mem.write_u64(DATA + 520, 1).unwrap(),
                GP,
            ),
            (
                "header bytes 16..23 non-zero",
                |h| h.plat.mem.write_u64(DATA + 528, 1).unwrap(),
                GP,
            ),
            (
                "MXCSR reserved bit",
                |h| h.plat.mem.write_u32(DATA + 24, 1 << 20).unwrap(),
                GP,
            ),
            (
                "CR4.OSXSAVE clear",
                |h| h.interp.cpu.s.cr.cr4 &= !cr4::OSXSAVE,
                UD,
            ),
        ];
        for (name, patch, want) in cases {
            let (e, mut h) = run(
                "max",
                |_| {},
                xsave_prog(|a| a.xsave64(ptr(rdi)).unwrap(), 7),
            );
            assert_eq!(e, 1);
            h.interp.cpu.s.fpu.xmm[2] = [9, 9];
            patch(&mut h);
            assert_eq!(resume(&mut h), want, "{name}");
            if want != 0 {
                assert_eq!(
                    h.interp.cpu.s.fpu.xmm[2],
                    [9, 9],
                    "{name}: nothing restored"
                );
            }
        }
        // Compacted form: XSTATE_BV may only name components in XCOMP_BV.
        let (e, mut h) = run(
            "max",
            |_| {},
            xsave_prog(|a| a.xsavec64(ptr(rdi)).unwrap(), 7),
        );
        assert_eq!(e, 1);
        assert_eq!(q(&h, 520), 7 | 1 << 63);
        h.plat.mem.write_u64(DATA + 520, 3 | 1 << 63).unwrap();
        h.plat.mem.write_u64(DATA + 512, 4).unwrap();
        assert_eq!(resume(&mut h), GP);
    }

    #[test]
    fn xsavec_compacted_layout_with_pkru() {
        let mask = 0x207u64;
        let (e, mut h) = run(
            "max",
            |h| {
                sample_fpu(&mut h.interp.cpu.s.fpu);
                h.interp.cpu.s.cr.cr4 |= cr4::PKE;
                h.interp.cpu.s.xcr0 = mask;
                h.interp.cpu.s.fpu.pkru = 0x5555_0004;
            },
            xsave_prog(|a| a.xsavec64(ptr(rdi)).unwrap(), mask),
        );
        assert_eq!(e, 1);
        let saved = h.interp.cpu.s.fpu.clone();
        assert_eq!(q(&h, 512), 0x207, "XSTATE_BV");
        assert_eq!(q(&h, 520), 0x207 | 1 << 63, "XCOMP_BV");
        assert_eq!(q(&h, 576), saved.ymm_hi[0][0], "AVX first");
        assert_eq!(q(&h, 576 + 256), 0x5555_0004, "PKRU right after AVX");
        h.interp.cpu.s.fpu = FpuState::reset();
        assert_eq!(resume(&mut h), 0);
        let f = &h.interp.cpu.s.fpu;
        assert_eq!(f.pkru, 0x5555_0004);
        assert_eq!(f.ymm_hi, saved.ymm_hi);
        assert_eq!(f.xmm, saved.xmm);
        assert_eq!(f.mxcsr, saved.mxcsr);
    }

    #[test]
    fn xsaveopt_writes_only_components_in_use() {
        let (e, h) = run(
            "max",
            |h| {
                let f = &mut h.interp.cpu.s.fpu;
                *f = FpuState::reset();
                f.fcw = 0x037F;
                f.ftw = 0xFFFF;
                f.ymm_hi[3] = [1, 2];
                h.plat.mem.write(DATA, &[0xAA; 1024]).unwrap();
            },
            |a| {
                a.mov(rdi, DATA).unwrap();
                a.mov(eax, 7u32).unwrap();
                a.xor(edx, edx).unwrap();
                a.xsaveopt64(ptr(rdi)).unwrap();
            },
        );
        assert_eq!(e, 0);
        let bv = q(&h, 512);
        assert_eq!(bv & 7, 4, "only AVX in use");
        assert_eq!(q(&h, 0), 0xAAAA_AAAA_AAAA_AAAA, "x87 region not written");
        assert_eq!(q(&h, 160), 0xAAAA_AAAA_AAAA_AAAA, "XMM region not written");
        assert_eq!(q(&h, 24), 0x1F80 | 0xFFFF << 32, "MXCSR always written");
        assert_eq!(q(&h, 576 + 48), 1);
    }

    #[test]
    fn xsaves_needs_cpl0_and_the_feature() {
        let prog = |a: &mut CodeAssembler| {
            a.mov(rdi, DATA).unwrap();
            a.mov(eax, 3u32).unwrap();
            a.xor(edx, edx).unwrap();
            a.xsaves64(ptr(rdi)).unwrap();
        };
        assert_eq!(run("max", |_| {}, prog).0, UD, "max lacks XSAVES");
        let (e, h) = run("max,+xsaves", |_| {}, prog);
        assert_eq!(e, 0);
        assert_eq!(q(&h, 520), 3 | 1 << 63);
    }

    #[test]
    fn pkru_access() {
        let prog = |a: &mut CodeAssembler| {
            a.mov(eax, 0x0Cu32).unwrap();
            a.xor(ecx, ecx).unwrap();
            a.xor(edx, edx).unwrap();
            a.wrpkru().unwrap();
            a.mov(eax, 0x77u32).unwrap();
            a.mov(edx, 0x77u32).unwrap();
            a.rdpkru().unwrap();
            a.mov(ebx, eax).unwrap();
            a.mov(esi, edx).unwrap();
        };
        assert_eq!(run("max", |_| {}, prog).0, UD, "CR4.PKE clear");
        let (e, h) = run("max", |h| h.interp.cpu.s.cr.cr4 |= cr4::PKE, prog);
        assert_eq!(e, 0);
        assert_eq!(h.interp.cpu.s.fpu.pkru, 0x0C);
        assert_eq!((h.reg(3), h.reg(6)), (0x0C, 0));
        let (e, _) = run(
            "max",
            |h| h.interp.cpu.s.cr.cr4 |= cr4::PKE,
            |a| {
                a.mov(ecx, 1u32).unwrap();
                a.wrpkru().unwrap();
            },
        );
        assert_eq!(e, GP);
    }

    #[test]
    fn vex_128_zeroes_upper_and_legacy_keeps_it() {
        let (e, h) = run(
            "max",
            |h| {
                let f = &mut h.interp.cpu.s.fpu;
                f.ymm_hi[0] = [1, 1];
                f.ymm_hi[9] = [2, 2];
            },
            |a| {
                a.addps(xmm0, xmm1).unwrap();
                a.vaddps(xmm9, xmm1, xmm2).unwrap();
            },
        );
        assert_eq!(e, 0);
        assert_eq!(h.interp.cpu.s.fpu.ymm_hi[0], [1, 1]);
        assert_eq!(h.interp.cpu.s.fpu.ymm_hi[9], [0, 0]);
    }

    #[test]
    fn protected_mode_32bit_sse() {
        // 32-bit code: SSE with 32-bit addressing; VZEROUPPER only touches
        // registers 0-7.
        let code = asm(32, |a| {
            a.mov(edi, DATA as u32).unwrap();
            a.movdqu(xmm1, xmmword_ptr(edi)).unwrap();
            a.paddd(xmm1, xmm1).unwrap();
            a.movdqu(xmmword_ptr(edi + 16), xmm1).unwrap();
            a.vzeroupper().unwrap();
            a.mov(eax, 0u32).unwrap();
            a.out(0xF4, eax).unwrap();
        });
        let mut h = Harness::new("max", Mode::Prot32, &code);
        h.interp.cpu.s.cr.cr4 |= cr4::OSFXSR | cr4::OSXSAVE;
        h.interp.cpu.s.xcr0 = 7;
        h.interp.cpu.s.fpu.ymm_hi[9] = [5, 5];
        h.interp.cpu.s.fpu.ymm_hi[1] = [5, 5];
        h.plat.mem.write_u64(DATA, 1).unwrap();
        h.plat
            .mem
            .write_u64(DATA + 8, 0x8000_0000_0000_0002)
            .unwrap();
        let (r, e) = h.run(1000);
        assert_eq!(e, Some(0), "{r:?}");
        assert_eq!(h.plat.mem.read_u64(DATA + 16).unwrap(), 2);
        assert_eq!(h.plat.mem.read_u64(DATA + 24).unwrap(), 4);
        assert_eq!(h.interp.cpu.s.fpu.ymm_hi[1], [0, 0]);
        assert_eq!(h.interp.cpu.s.fpu.ymm_hi[9], [5, 5]);
    }

    #[test]
    fn vex_is_invalid_in_real_mode() {
        let code = asm(16, |a| {
            a.vaddps(xmm0, xmm1, xmm2).unwrap();
        });
        let mut h = Harness::new("max", Mode::Real, &code);
        h.interp.cpu.s.cr.cr4 |= cr4::OSFXSR | cr4::OSXSAVE;
        h.interp.cpu.s.xcr0 = 7;
        // IVT[6] = 0000:7000, where the handler exits with 0x106.
        h.interp.cpu.s.idtr.base = 0;
        h.interp.cpu.s.idtr.limit = 0x3FF;
        h.plat.mem.write_u32(6 * 4, 0x7000).unwrap();
        h.plat
            .mem
            .write(0x7000, &[0x66, 0xB8, 0x06, 0x01, 0, 0, 0x66, 0xE7, 0xF4])
            .unwrap();
        let (r, e) = h.run(100);
        assert_eq!(e, Some(UD), "{r:?}");
    }

    #[test]
    fn page_crossing_store_faults_without_partial_write() {
        // Unmap the 2 MiB page at 4 MiB (PD entry 2 of the first GiB).
        let edge = 0x40_0000u64;
        let (e, h) = run(
            "max",
            |h| {
                h.plat.mem.write_u64(0x5_2000 + 8 * 2, 0).unwrap();
                h.plat.mem.write_u64(edge - 8, 0x1111).unwrap();
                h.interp.cpu.s.fpu.xmm[0] = [0xAAAA, 0xBBBB];
            },
            move |a| {
                a.mov(rdi, edge - 8).unwrap();
                a.movups(xmmword_ptr(rdi), xmm0).unwrap();
            },
        );
        assert_eq!(e, EXC + 14);
        assert_eq!(h.interp.cpu.s.cr.cr2, edge);
        assert_eq!(
            h.plat.mem.read_u64(edge - 8).unwrap(),
            0x1111,
            "no partial write"
        );
    }

    /// Compiled-code idioms end to end: an SSE2 strlen (PCMPEQB/PMOVMSKB/
    /// BSF on aligned blocks), an SSE4.2 strchr (PCMPISTRI) and a scalar
    /// double loop (CVTSI2SD, MULSD, ADDSD, UCOMISD, CVTTSD2SI).
    #[test]
    fn compiled_code_idioms() {
        let s = b"hello, vectorised world! 0123456789abcdefghij\0";
        let (e, h) = run(
            "max",
            |h| h.plat.mem.write(DATA + 3, s).unwrap(),
            |a| {
                // strlen(DATA + 3)
                let mut lp = a.create_label();
                let mut found = a.create_label();
                a.mov(rdi, DATA + 3).unwrap();
                a.mov(rax, rdi).unwrap();
                a.and(rax, -16i32).unwrap();
                a.pxor(xmm0, xmm0).unwrap();
                a.movdqa(xmm1, xmmword_ptr(rax)).unwrap();
                a.pcmpeqb(xmm1, xmm0).unwrap();
                a.pmovmskb(edx, xmm1).unwrap();
                a.mov(ecx, edi).unwrap();
                a.and(ecx, 15).unwrap();
                a.shr(edx, cl).unwrap();
                a.shl(edx, cl).unwrap();
                a.test(edx, edx).unwrap();
                a.jnz(found).unwrap();
                a.set_label(&mut lp).unwrap();
                a.add(rax, 16).unwrap();
                a.movdqa(xmm1, xmmword_ptr(rax)).unwrap();
                a.pcmpeqb(xmm1, xmm0).unwrap();
                a.pmovmskb(edx, xmm1).unwrap();
                a.test(edx, edx).unwrap();
                a.jz(lp).unwrap();
                a.set_label(&mut found).unwrap();
                a.bsf(edx, edx).unwrap();
                a.add(rax, rdx).unwrap();
                a.sub(rax, rdi).unwrap();
                a.mov(r8, rax).unwrap();
                // strchr-like: index of the first of "w9" in the 16 bytes
                // starting at "vectorised...".
                a.mov(rax, 0x3977u64).unwrap();
                a.movq(xmm2, rax).unwrap();
                a.movdqu(xmm3, xmmword_ptr(rdi + 7)).unwrap();
                a.pcmpistri(xmm2, xmm3, 0x00).unwrap();
                a.mov(r9d, ecx).unwrap();
                // Σ i·1.5 for i < 10, truncated.
                let mut sum = a.create_label();
                a.xorpd(xmm4, xmm4).unwrap();
                a.mov(rax, 1.5f64.to_bits()).unwrap();
                a.movq(xmm5, rax).unwrap();
                a.xor(ecx, ecx).unwrap();
                a.set_label(&mut sum).unwrap();
                a.cvtsi2sd(xmm6, ecx).unwrap();
                a.mulsd(xmm6, xmm5).unwrap();
                a.addsd(xmm4, xmm6).unwrap();
                a.inc(ecx).unwrap();
                a.cmp(ecx, 10).unwrap();
                a.jl(sum).unwrap();
                a.ucomisd(xmm4, xmm5).unwrap();
                a.seta(r10b).unwrap();
                a.cvttsd2si(r11, xmm4).unwrap();
            },
        );
        assert_eq!(e, 0);
        assert_eq!(h.reg(8), s.len() as u64 - 1, "strlen");
        assert_eq!(h.reg(9), 11, "'w' of \"world\"");
        assert_eq!(h.reg(10) & 0xFF, 1, "67.5 > 1.5");
        assert_eq!(h.reg(11), 67);
    }

    /// Byte registers SPL..DIL and R8B..R15B (found by the SETA R10B in
    /// the test above: they used to be mapped to the wrong register).
    #[test]
    fn rex_byte_registers() {
        let (e, h) = run(
            "max",
            |h| {
                for r in [6, 7, 9, 10] {
                    h.interp.cpu.regs[r] = 0x5555_5555;
                }
            },
            |a| {
                a.mov(sil, 0x12u32).unwrap();
                a.mov(r9b, 0x34u32).unwrap();
                a.mov(dil, r9b).unwrap();
                a.add(dil, sil).unwrap();
                a.xor(eax, eax).unwrap();
                a.cmp(eax, 1).unwrap();
                a.setb(r10b).unwrap();
            },
        );
        assert_eq!(e, 0);
        assert_eq!(h.reg(6), 0x5555_5512);
        assert_eq!(h.reg(9), 0x5555_5534);
        assert_eq!(h.reg(7), 0x5555_5546);
        assert_eq!(h.reg(10), 0x5555_5501);
    }
}
