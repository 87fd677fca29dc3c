//! SIMD rules in the interpreter, checked against values from the SDM: the
//! exception rules (CR0/CR4 gates, alignment, MXCSR, SIMD exceptions),
//! MMX state transitions, and the state-save instructions (FXSAVE/XSAVE
//! family) — what cannot run natively in user mode for the host oracle of
//! `interp_sse.rs`.

mod common;

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
