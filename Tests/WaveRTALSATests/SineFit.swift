import Foundation

/// Least-squares fit of y[m] = a·cos(ωm) + b·sin(ωm) + c over one block (m
/// counted from the block's middle, for conditioning), ω refined by
/// Gauss-Newton from a close start (IEEE 1057's four-parameter fit).
struct SineFit {
    var a = 0.0, b = 0.0, c = 0.0, omega: Double
    var middle = 0.0
    var residualRMS = 0.0
    var maxResidual = 0.0

    var amplitude: Double { (a * a + b * b).squareRoot() }
    /// Signal (the fitted sine's power) to residual, in dB.
    var snrDB: Double { 20 * log10(amplitude / 2.0.squareRoot() / max(residualRMS, 1e-30)) }

    /// The fitted sine at sample index `n` of the block (may lie outside it).
    func value(at n: Double) -> Double {
        let m = n - middle
        return a * cos(omega * m) + b * sin(omega * m) + c
    }

    init(_ y: ArraySlice<Double>, omega start: Double, iterations: Int = 3) {
        omega = start
        middle = Double(y.count - 1) / 2
        let base = y.startIndex
        let n = y.count
        // Three-parameter fit at the starting ω, then four-parameter refinements.
        y.withUnsafeBufferPointer { samples in
            for iteration in 0...iterations {
                let withOmega = iteration > 0
                var s00 = 0.0, s01 = 0.0, s02 = 0.0, s03 = 0.0, s11 = 0.0, s12 = 0.0, s13 = 0.0, s22 = 0.0, s23 = 0.0, s33 = 0.0
                var r0 = 0.0, r1 = 0.0, r2 = 0.0, r3 = 0.0
                // cos/sin by rotation: one pair of trig calls per pass.
                var cm = cos(omega * -middle), sm = sin(omega * -middle)
                let cd = cos(omega), sd = sin(omega)
                for i in 0..<n {
                    let m = Double(i) - middle
                    let j3 = withOmega ? m * (b * cm - a * sm) : 0
                    let r = withOmega ? samples[i] - (a * cm + b * sm + c) : samples[i]
                    s00 += cm * cm; s01 += cm * sm; s02 += cm; s03 += cm * j3
                    s11 += sm * sm; s12 += sm; s13 += sm * j3
                    s22 += 1; s23 += j3; s33 += j3 * j3
                    r0 += cm * r; r1 += sm * r; r2 += r; r3 += j3 * r
                    (cm, sm) = (cm * cd - sm * sd, sm * cd + cm * sd)
                }
                let k = withOmega ? 4 : 3
                let jtj = [s00, s01, s02, s03, s01, s11, s12, s13, s02, s12, s22, s23, s03, s13, s23, s33]
                guard let x = Self.solve(jtj, [r0, r1, r2, r3], k) else { break }
                if withOmega {
                    a += x[0]; b += x[1]; c += x[2]; omega += x[3]
                } else {
                    a = x[0]; b = x[1]; c = x[2]
                }
            }
        }
        var sum = 0.0, worst = 0.0
        var cm = cos(omega * -middle), sm = sin(omega * -middle)
        let cd = cos(omega), sd = sin(omega)
        for i in 0..<n {
            let r = y[base + i] - (a * cm + b * sm + c)
            sum += r * r
            worst = max(worst, abs(r))
            (cm, sm) = (cm * cd - sm * sd, sm * cd + cm * sd)
        }
        residualRMS = (sum / Double(max(1, n))).squareRoot()
        maxResidual = worst
    }

    /// Gaussian elimination with partial pivoting on the k×k system (row stride 4).
    private static func solve(_ m: [Double], _ r: [Double], _ k: Int) -> [Double]? {
        var a = m, b = r
        for col in 0..<k {
            var pivot = col
            for row in col..<k where abs(a[row * 4 + col]) > abs(a[pivot * 4 + col]) { pivot = row }
            guard abs(a[pivot * 4 + col]) > 1e-300 else { return nil }
            if pivot != col {
                for j in 0..<4 { a.swapAt(col * 4 + j, pivot * 4 + j) }
                b.swapAt(col, pivot)
            }
            for row in (col + 1)..<k {
                let f = a[row * 4 + col] / a[col * 4 + col]
                for j in col..<k { a[row * 4 + j] -= f * a[col * 4 + j] }
                b[row] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: k)
        for row in stride(from: k - 1, through: 0, by: -1) {
            var s = b[row]
            for j in (row + 1)..<k { s -= a[row * 4 + j] * x[j] }
            x[row] = s / a[row * 4 + row]
        }
        return x
    }
}

/// Fits a sine to each block of a stream as it arrives and keeps the worst
/// figures: the block SNR and the seam between blocks (the previous block's
/// sine carried on into the next, against the next block's own).
/// A dropped, repeated or corrupted sample anywhere shows in one or the other.
struct ToneAnalyzer {
    let blockLength: Int
    private(set) var omega: Double
    private var block: [Double] = []
    private var previous: SineFit?
    private(set) var blocks = 0
    private(set) var worstSNR = Double.infinity
    private(set) var worstSNRBlock = -1
    /// Largest seam error relative to the amplitude.
    private(set) var worstSeam = 0.0
    private(set) var worstSeamBlock = -1
    private(set) var amplitude = 0.0

    init(blockLength: Int, omega: Double) {
        self.blockLength = blockLength
        self.omega = omega
        block.reserveCapacity(blockLength)
    }

    mutating func add(_ sample: Double) {
        block.append(sample)
        guard block.count == blockLength else { return }
        let fit = SineFit(block[...], omega: omega)
        if let previous {
            // The previous block's sine carried on against this block's, over the
            // first 32 samples: both are fits over thousands of samples, so noise
            // cancels, and a slip of one sample (a phase step of ω) stands out.
            var seam = 0.0
            for i in 0..<32 {
                seam = max(seam, abs(previous.value(at: Double(blockLength + i)) - fit.value(at: Double(i))))
            }
            seam /= max(previous.amplitude, 1e-30)
            if seam > worstSeam { worstSeam = seam; worstSeamBlock = blocks }
        }
        if fit.snrDB < worstSNR { worstSNR = fit.snrDB; worstSNRBlock = blocks }
        amplitude = fit.amplitude
        omega = fit.omega
        previous = fit
        blocks += 1
        block.removeAll(keepingCapacity: true)
    }
}
