import json,sys,statistics as S
K=10
def q(xs,p):
    s=sorted(xs); h=p*(len(s)-1); lo=int(h)
    return s[lo] if lo+1>=len(s) else s[lo]+(h-lo)*(s[lo+1]-s[lo])
def rank(v):
    o=sorted(range(len(v)),key=lambda i:v[i]); r=[0]*len(v)
    for i,j in enumerate(o): r[j]=i
    return r
def spear(x,y):
    rx,ry=rank(x),rank(y); n=len(x)
    return 1-6*sum((a-b)**2 for a,b in zip(rx,ry))/(n*(n*n-1))
def load(f):
    return {r['Arch']:(r['SamplesMs'],r['ProbeMs']) for r in json.load(open(f))}
def blocks(a,p):
    out=[]
    for j in range(len(p)):
        blk=a[j*K:(j+1)*K]
        if not blk: break
        pp=p[j] if j+1>=len(p) else (p[j]+p[j+1])/2
        out.append(S.median(blk)/pp)
    return out
ests={
 'raw': lambda a,p: S.median(a),
 'ratio-med': lambda a,p: S.median(a)/S.median(p),
 'ratio-q25': lambda a,p: q(a,.25)/q(p,.25),
 'ratio-min': lambda a,p: min(a)/min(p),
 'ratio-mean': lambda a,p: S.mean(a)/S.mean(p),
 'block-med': lambda a,p: S.median(blocks(a,p)),
 'block-mean': lambda a,p: S.mean(blocks(a,p)),
 'raw-q10': lambda a,p: q(a,.1),
 'raw-min': lambda a,p: min(a),
}
for pre in sys.argv[1:]:
    A,B=load(pre+'.0.json'),load(pre+'.1.json')
    ks=sorted(A)
    print(pre, ' '.join('%s=%.3f'%(n,spear([f(*A[k]) for k in ks],[f(*B[k]) for k in ks])) for n,f in ests.items()))
print("gamma scan")
for pre in sys.argv[1:]:
    A,B=load(pre+'.0.json'),load(pre+'.1.json')
    ks=sorted(A)
    allp=[S.median(A[k][1]) for k in ks]+[S.median(B[k][1]) for k in ks]
    base=S.median(allp)
    out=[]
    for g in [0,0.25,0.5,0.75,1,1.25,1.5,2]:
        f=lambda a,p: S.median(a)*(base/S.median(p))**g
        out.append('%.2f:%.3f'%(g,spear([f(*A[k]) for k in ks],[f(*B[k]) for k in ks])))
    print(pre,' '.join(out))
    # within-arch slope
    xs=[];ys=[]
    for k in ks:
        a1,p1=A[k];a2,p2=B[k]
        import math
        xs.append(math.log(S.median(p2)/S.median(p1))); ys.append(math.log(S.median(a2)/S.median(a1)))
    sxx=sum(x*x for x in xs); sxy=sum(x*y for x,y in zip(xs,ys))
    print(' slope dlog(arch)/dlog(probe) = %.3f, sd dlog probe %.3f, sd dlog arch %.3f'%(sxy/sxx, S.pstdev(xs), S.pstdev(ys)))
    res=[y-x for x,y in zip(xs,ys)]
    print(' residual sd after ratio %.3f'%S.pstdev(res))
    rr=[y-0.8*x for x,y in zip(xs,ys)]
